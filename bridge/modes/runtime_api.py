"""Runtime-API mode: a custom-runtime ``bootstrap`` (Go, Rust, Crystal, shell + curl, awslambdaric...)
runs unchanged inside the python3 runtime.

The binary is started once, with ``AWS_LAMBDA_RUNTIME_API`` pointing at the bridge's own loopback
server. Each invocation is handed to its waiting ``next`` request with Lambda's headers; the bridge
drains the binary's stdout and stderr (both are log output for a custom runtime) while it waits for
the answer. Faults kill the process group and the next call starts a new process and a new server.
"""

from __future__ import annotations

import os
import time

from .. import codec, logs
from ..context import plain
from ..errors import BinaryExitError, BinaryTimeout, OutputTooLarge, binary_error
from ..failures import exit_error, timeout_error
from ..logs import OutputLog
from ..output import Decoded
from ..process import DeadlineExceeded
from ..runtime_api import Invocation as Pending
from ..runtime_api import RuntimeServer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..binary import Program
    from ..config import Config
    from ..context import Invocation
    from ..process import Child

INIT_LIMIT_S = 10.0  # Lambda's own limit on a runtime's init phase


def runtime_headers(invocation: Invocation) -> dict[str, str]:
    """The headers Lambda sends with ``GET .../invocation/next``."""
    context = invocation.context
    headers = {
        "Content-Type": "application/json",
        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
        "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
        "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
        "Lambda-Runtime-Trace-Id": invocation.trace_id,
    }
    client_context = plain(getattr(context, "client_context", None))
    if client_context:
        headers["Lambda-Runtime-Client-Context"] = codec.dumps(client_context).decode()
    identity = getattr(context, "identity", None)
    identity_id = getattr(identity, "cognito_identity_id", None)
    pool_id = getattr(identity, "cognito_identity_pool_id", None)
    if identity_id or pool_id:
        headers["Lambda-Runtime-Cognito-Identity"] = codec.dumps(
            {"cognitoIdentityId": identity_id, "cognitoIdentityPoolId": pool_id}).decode()
    return headers


def _posted_error(error_type_header: str, body: bytes) -> Exception:
    """The error a runtime posted: body fields first, the error-type header as Lambda's fallback."""
    try:
        posted = codec.loads(body) if body.strip() else {}
    except codec.DecodeError:
        posted = {"errorMessage": body.decode("utf-8", "replace")}
    if not isinstance(posted, dict):
        posted = {"errorMessage": str(posted)}
    error_type = posted.get("errorType") or error_type_header or "Unhandled"
    message = posted.get("errorMessage")
    error = binary_error(str(error_type), message if isinstance(message, str) else codec.dumps(message).decode())
    error.posted = posted  # the whole body (stackTrace, requestId...), for the emulator to show
    return error


def _response_value(body: bytes) -> object:
    if not body.strip():
        return None
    try:
        return codec.loads(body)
    except codec.DecodeError:
        return body.decode("utf-8", "replace")


class RuntimeApi:
    __slots__ = ("program", "config", "port", "child", "server", "stdout", "stderr")

    def __init__(self, program: Program, config: Config, port: int = 0) -> None:
        self.program = program
        self.config = config
        self.port = port
        self.child: Child | None = None
        self.server: RuntimeServer | None = None
        self.stdout = OutputLog()
        self.stderr = OutputLog()

    def call(self, payload: bytes, invocation: Invocation) -> Decoded:
        """Hand one event to the runtime; its response, or the error it posted, as a typed exception."""
        if invocation.time_left() <= 0:
            raise BinaryTimeout("no time left to call the runtime (remaining time is below BRIDGE_TIMEOUT_MARGIN_MS)")
        self.stdout.start(invocation.request_id, "stdout")
        self.stderr.start(invocation.request_id, "stderr")
        child, server = self._ready(invocation)
        pending = Pending(invocation.request_id, payload, runtime_headers(invocation))
        server.offer(pending)
        self._pump(invocation, lambda: pending.done() or server.init_error is not None)
        if pending.outcome == "response":
            return Decoded(_response_value(pending.answer))
        if pending.outcome == "error":
            raise _posted_error(pending.error_type, pending.answer)
        server.withdraw(pending)
        if pending.outcome == "too-large":
            raise OutputTooLarge(f"the runtime's response was over {self.config.max_output_bytes} bytes")
        error = self._failure(child, server, "before answering")
        self._discard()
        raise error

    def _pump(self, invocation: Invocation, done, deadline: float | None = None) -> None:
        try:
            # A custom runtime gets its events over HTTP: its stdin is at end of file from the start.
            self.child.pump(deadline or invocation.deadline, self.stdout, self.stderr, done=done,
                            wake_fd=self.server.wake_fd, close_stdin=True)
        except DeadlineExceeded:
            self._discard()
            if deadline is not None and deadline < invocation.deadline:
                raise BinaryTimeout(f"the runtime did not ask for an invocation within {INIT_LIMIT_S:.0f} s of "
                                    f"starting (Lambda's init limit); stderr: {self.stderr.tail()}") from None
            raise timeout_error(invocation.elapsed_ms(), self.config.timeout_margin_ms, self.stderr) from None
        except BaseException:
            self._discard()
            raise
        finally:
            self.stdout.flush()
            self.stderr.flush()

    def _ready(self, invocation: Invocation) -> tuple[Child, RuntimeServer]:
        """The running runtime, started (and through its init) when needed."""
        if self.child is not None:
            self.child.check_idle()
            if self.child.alive:
                return self.child, self.server
            logs.warn(f"the runtime (pid {self.child.pid}) exited between calls with status "
                      f"{self.child.returncode}; restarting it")
            self._discard()
        self.server = RuntimeServer(self.port)
        env = dict(self.program.environ)
        env["AWS_LAMBDA_RUNTIME_API"] = self.server.address
        env["_HANDLER"] = self.config.handler or os.path.basename(self.program.path)
        env["LAMBDA_TASK_ROOT"] = self.config.task_root
        try:
            self.child = self.program.start(env)
        except BaseException:
            self._discard()
            raise
        self._pump(invocation, self.server.ready, min(invocation.deadline, time.monotonic() + INIT_LIMIT_S))
        if not self.server.waiting:
            error = self._failure(self.child, self.server, "during its init")
            self._discard()
            raise error
        return self.child, self.server

    def _failure(self, child: Child, server: RuntimeServer, when: str) -> Exception:
        if server.init_error is not None:
            posted = _posted_error(*server.init_error)
            error = type(posted)(f"the runtime reported an init error: {posted}")
            error.posted, error.during_init = posted.posted, True
            return error
        if child.returncode:
            return exit_error(child.returncode, self.stderr)
        return BinaryExitError(f"the runtime exited with status {child.returncode} {when}; "
                               f"stderr: {self.stderr.tail()}")

    def _discard(self) -> None:
        if self.child is not None:
            self.child.kill()
            self.child = None
        if self.server is not None:
            self.server.close()
            self.server = None

    def close(self) -> None:
        if self.child is not None:
            self.child.stop()  # an orderly end, unlike a fault's immediate kill
        self._discard()
