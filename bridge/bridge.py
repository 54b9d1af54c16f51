"""The bridge as a whole: configured once per cold start, then invoked once per event."""

from __future__ import annotations

import importlib
import os

from . import binary, codec, logs, output
from .config import Config
from .context import Invocation
from .errors import BinaryError, BridgeError, UnsupportedEvent

# Imported on demand: runtime-api mode pulls in http.server, which a oneshot cold start can do without.
MODES = {
    "oneshot": ("oneshot", "Oneshot"),
    "persistent": ("persistent", "Persistent"),
    "runtime-api": ("runtime_api", "RuntimeApi"),
    "cgi": ("cgi", "Cgi"),
}


def mode_class(name: str) -> type:
    module, cls = MODES[name]
    return getattr(importlib.import_module(f".modes.{module}", __package__), cls)


class Bridge:
    """Runs the configured binary for each event and returns its result or raises a typed error."""

    __slots__ = ("config", "program", "mode", "_http")

    def __init__(self, config: Config) -> None:
        self.config = config
        path = binary.prepare(config.task_root, config.binary)
        self.program = binary.Program(path, config.args, binary.base_environment(os.environ))
        self.mode = mode_class(config.mode)(self.program, config)
        needs_http = config.http == "auto" or config.stdin == "body" or config.mode == "cgi"
        self._http = importlib.import_module(".http", __package__) if needs_http else None

    @classmethod
    def from_environ(cls, task_root: str) -> Bridge:
        return cls(Config.from_environ(task_root))

    def invoke(self, event: object, context: object) -> object:
        """One Lambda invocation: ``event`` to the binary's stdin, its stdout back as the result (shaped
        as the integration expects when the event came through an HTTP front door)."""
        invocation = Invocation(context, self.config.timeout_margin_ms)
        fmt = self._http.detect(event) if self._http is not None else None
        if fmt is None:
            if self.config.mode == "cgi":
                raise UnsupportedEvent("CGI mode serves HTTP events (API Gateway, ALB, Function URLs); "
                                       "this event is none of them")
            return self._result(self.mode.call(codec.dumps(event), invocation))
        try:
            return self._http_call(fmt, event, invocation)
        except (BridgeError, BinaryError) as exc:
            if self.config.http_errors != "response":
                raise
            logs.warn(f"{type(exc).__name__}: {exc} (answered with an HTTP error: BRIDGE_HTTP_ERRORS=response)")
            return fmt.response(event, self._http.error_response(exc))

    def _http_call(self, fmt, event: dict, invocation: Invocation) -> object:
        config = self.config
        if config.mode == "cgi":
            return fmt.response(event, self.mode.serve(fmt.request(event), invocation))
        payload = fmt.request(event).body if config.stdin == "body" else codec.dumps(event)
        reply = self.mode.call(payload, invocation)
        if config.http != "auto":
            return self._result(reply)
        if type(reply) is output.Decoded:
            return self._http.shape_value(fmt, event, reply.value)
        return self._http.shape_output(fmt, event, reply, config.output)

    def _result(self, reply: object) -> object:
        if type(reply) is output.Decoded:
            return reply.value
        return output.decode(reply, self.config.output)

    def close(self) -> None:
        self.mode.close()
