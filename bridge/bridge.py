"""The bridge as a whole: configured once per cold start, then invoked once per event.

Per invocation (docs/architecture.md draws it): the event is recognised (an HTTP front door, or not),
the mode runs the binary on it, and the reply becomes the handler's result; a failure is a typed
error, or an HTTP error response when ``BRIDGE_HTTP_ERRORS=response``.
"""

from __future__ import annotations

import os

from . import binary, log_records, logs, process
from .config import Batching, Config, Http, HttpErrors, Mode, RuntimeApi, SnapStart, Start, Stdin
from .errors import BinaryError, BridgeError
from .event import Event
from .invocation import Invocation
from .modes import mode_class

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .batch import Runner
    from .http import FrontDoor
    from .types import LambdaContext


def _no_front_door(value: object) -> None:
    """HTTP handling is off: every event is just an event."""
    return None


def _http_front_door(value: object, content_type: str) -> FrontDoor | None:
    """The HTTP front door a proxy request came through. Every format carries a ``requestContext``
    (tests/test_events.py keeps it so): other events never import the HTTP package, so a function that
    gets none (a queue worker) never pays for it, at init or later."""
    if not (isinstance(value, dict) and "requestContext" in value):
        return None
    from .http import front_door

    return front_door(value, content_type)


class Bridge:
    """Runs the configured binary for each event and returns its result or raises a typed error."""

    __slots__ = ("config", "program", "mode", "_front_door", "_shape", "_batch")

    def __init__(self, config: Config) -> None:
        self.config = config
        self.program = binary.program(config.task_root, config.binary, config.args,
                                      binary.base_environment(os.environ))
        if config.mode is Mode.RUNTIME_API and config.runtime_api is RuntimeApi.HANDOFF:
            # Under a runtime client handler.py hands the process over before a Bridge is made.
            logs.warn("BRIDGE_RUNTIME_API=handoff, but no runtime client imported the handler (the CLI, a "
                      "test, an in-process call): the bootstrap is proxied instead")
        process.become_subreaper()  # so that nothing the binary starts can outlive its call
        log_records.configure(config.stderr_level)
        self.mode = mode_class(config.mode)(self.program, config)
        http_only = self.mode.http_only
        needs_http = config.http is Http.AUTO or config.stdin is Stdin.BODY or http_only
        self._front_door: Callable[[object], FrontDoor | None] = _no_front_door
        if needs_http:
            content_type = config.content_type
            self._front_door = lambda value: _http_front_door(value, content_type)
        self._shape = config.http is Http.AUTO or http_only
        self._batch: Runner | None = None
        if config.batch is Batching.RECORDS:
            from . import batch

            new_mode = lambda: mode_class(config.mode)(self.program, config)  # noqa: E731
            self._batch = batch.Runner(self.mode, new_mode, config, config.batch_concurrency)
        if config.start is Start.INIT:
            self.mode.start()  # in the init phase: its CPU burst, and a binary that cannot start fails the init
        if config.snapstart is SnapStart.RESTART and os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
            from snapshot_restore_py import register_after_restore  # the python3.12+ runtime ships it

            register_after_restore(self.mode.start)  # each restored copy gets a binary of its own

    @classmethod
    def from_environ(cls, task_root: str) -> Bridge:
        return cls(Config.from_environ(task_root))

    def invoke(self, value: object, context: LambdaContext) -> object:
        """One Lambda invocation: the event to the binary's stdin, its stdout back as the result (shaped
        as the integration expects when the event came through an HTTP front door)."""
        invocation = Invocation(context, self.config.timeout_margin_ms)
        log_records.request_id, log_records.tenant_id = invocation.request_id, invocation.tenant_id
        front = self._front_door(value)
        try:
            invocation.require_time()
            if self._batch is not None:
                found = self._batch.batch_of(value)
                if found is not None:
                    return self._batch.run(found, invocation)
            reply = self.mode.call(Event(value, front), invocation)
            return reply.result(self.config.output, front if self._shape else None)
        except (BridgeError, BinaryError) as exc:
            if front is None or self.config.http_errors is not HttpErrors.RESPONSE:
                raise
            logs.warn(f"{type(exc).__name__}: {exc} (answered with an HTTP error: BRIDGE_HTTP_ERRORS=response)")
            return front.error(exc)
        finally:
            log_records.request_id = log_records.tenant_id = ""

    def close(self) -> None:
        self.mode.close()
        if self._batch is not None:
            self._batch.close()
