"""Runtime-API mode: a custom-runtime ``bootstrap`` (Go, Rust, Crystal, shell + curl, awslambdaric...)
runs unchanged inside the python3 runtime.

The binary is started once, with ``AWS_LAMBDA_RUNTIME_API`` pointing at the bridge's own loopback
server (``bridge.runtime_server``). Each invocation is handed to its waiting ``next`` request with
Lambda's headers; the bridge drains the binary's stdout and stderr (both are log output for a custom
runtime) while it waits for the answer. Faults kill the process group and the next call starts a new
process and a new server.
"""

from __future__ import annotations

import os
import time

from .. import codec, logs
from ..context import function_variables, plain
from ..errors import (
    BinaryExitError,
    BinaryProtocolError,
    BinaryTimeout,
    InvalidOutput,
    OutputTooLarge,
    binary_error,
    exit_error,
    typed_error,
)
from ..logs import StreamLog
from ..pump import DeadlineExceeded
from ..reply import HttpAnswer, Value
from ..runtime_server import Delivery, RuntimeServer
from .long_lived import INIT_LIMIT_S, LongLived

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..binary import Program
    from ..config import Config
    from ..errors import BinaryError
    from ..event import Event
    from ..invocation import Invocation
    from ..process import Child

HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response"  # a streamed HTTP response's type
_PRELUDE_END = b"\0" * 8
_EXIT_GRACE_S = 0.2  # after a post broke off: how long the runtime has to show it is exiting


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
    if invocation.tenant_id:
        headers["Lambda-Runtime-Aws-Tenant-Id"] = invocation.tenant_id
    return headers


def posted_error(declared_type: str, body: bytes | bytearray) -> BinaryError:
    """The error a runtime posted. Its type is the one it declared (the error-type header, or trailer), as
    Lambda takes it; else the body's ``errorType``; else ``Unhandled``. The body, whatever its shape, is the
    error's document."""
    try:
        posted = codec.loads(body) if body.strip() else {}
    except codec.DecodeError:
        posted = {"errorMessage": body.decode("utf-8", "replace")}
    error = binary_error(posted, declared_type or "Unhandled")
    assert error is not None  # a fallback type makes any document an error
    if declared_type and type(error).__name__ != declared_type:
        error = typed_error(declared_type, str(error), error.document)
    return error


def _response_value(body: bytes | bytearray) -> object:
    """JSON as its value, which the Python runtime sends back unchanged. Anything else is returned as the
    bytes themselves: Lambda passes a custom runtime's body through as it is, and so does the runtime
    client with a handler's ``bytes`` (``application/unknown``); text would be altered (or, not UTF-8, lost)."""
    if not body.strip():
        return None
    try:
        return codec.loads(body)
    except codec.Unrepresentable as exc:
        raise InvalidOutput(f"the runtime's response cannot be returned exactly: {exc}") from None
    except codec.DecodeError:
        return bytes(body)


def _streamed_reply(body: bytes | bytearray, event: Event) -> Value | HttpAnswer:
    """A streamed HTTP response (``application/vnd.awslambda.http-integration-response``): a JSON prelude
    (``statusCode``, ``headers``, ``cookies``), eight NUL bytes, then the body, buffered whole here (the
    python runtime cannot stream). An HTTP event gets it as its integration's response; any other event,
    the body."""
    prelude, found, rest = body.partition(_PRELUDE_END)
    if not found:
        raise InvalidOutput("the runtime streamed an HTTP integration response without the eight NUL bytes that "
                            "end its JSON prelude")
    if event.front is None:
        return Value(_response_value(rest))
    try:
        head = codec.loads(prelude) if prelude.strip() else {}
    except codec.DecodeError as exc:
        raise InvalidOutput(f"the runtime's streamed HTTP prelude is not JSON: {exc}") from None
    if not isinstance(head, dict):
        raise InvalidOutput(f"the runtime's streamed HTTP prelude is not a JSON object: {head!r}")
    status, headers, cookies = head.get("statusCode", 200), head.get("headers") or {}, head.get("cookies") or []
    if not (type(status) is int and 100 <= status <= 599 and isinstance(headers, dict)
            and all(isinstance(v, str) for v in headers.values()) and isinstance(cookies, list)
            and all(isinstance(c, str) for c in cookies)):
        raise InvalidOutput(f"the runtime's streamed HTTP prelude is not a status, headers and cookies: {head!r}")
    from ..http import Response

    pairs = [*headers.items(), *(("Set-Cookie", cookie) for cookie in cookies)]
    return HttpAnswer(Response(status, pairs, bytes(rest)))


class RuntimeApi(LongLived):
    noun = "runtime"

    def __init__(self, program: Program, config: Config, port: int = 0) -> None:
        super().__init__(program, config, StreamLog("stdout"))
        self.port = port
        self.server: RuntimeServer | None = None

    def call(self, event: Event, invocation: Invocation) -> Value | HttpAnswer:
        """Hand one event to the runtime; its response, or the error it posted, as a typed exception."""
        delivery = self.submit(event, invocation)
        self.wait(invocation, delivery.done)
        exited = self._exited_before_taking(delivery)  # aws-lambda-go exits right after a panic's error post
        if exited is not None:
            logs.warn(f"the runtime exited with status {exited} before asking for this invocation; a new "
                      "runtime gets it")
            self._discard()
            delivery = self.submit(event, invocation)
            self.wait(invocation, delivery.done)
        return self.settle(delivery, event, invocation)

    def _exited_before_taking(self, delivery: Delivery) -> int | None:
        """The exit status of a runtime that ended with the event still queued (None when it did not): it never
        had the event, so another may take it, as Lambda starts a new runtime for the next event after one
        exits."""
        child = self.child
        if delivery.done() or delivery.delivered or child is None or child.alive:
            return None
        return child.returncode

    def submit(self, event: Event, invocation: Invocation) -> Delivery:
        """Queue one event for the runtime's next ``next`` (starting a runtime when none runs). Several may
        be in flight at once, for a runtime of several workers (the emulator's ``--concurrency``)."""
        self._begin(invocation)
        assert self.server is not None
        delivery = Delivery(invocation.request_id, event.stdin(self.config.stdin), runtime_headers(invocation))
        self.server.offer(delivery)
        return delivery

    def wait(self, invocation: Invocation, done: Callable[[], bool]) -> None:
        """Serve the runtime until ``done()``, an init error, its exit, or ``invocation``'s deadline."""
        server = self.server
        assert server is not None
        self._serve(invocation, lambda: done() or server.init_error is not None)

    def settle(self, delivery: Delivery, event: Event, invocation: Invocation) -> Value | HttpAnswer:
        """What the runtime answered ``delivery``, as a reply or a typed error; a delivery it could not answer
        (it exited, its post broke off or was too large) fails, and the runtime is replaced."""
        if delivery.outcome == "response":
            if delivery.streamed and delivery.content_type.partition(";")[0].strip().lower() == HTTP_INTEGRATION:
                return _streamed_reply(delivery.answer, event)
            return Value(_response_value(delivery.answer))
        if delivery.outcome == "error":
            raise posted_error(delivery.error_type, delivery.answer)
        server, child = self.server, self.child
        assert server is not None and child is not None
        server.withdraw(delivery)
        if delivery.outcome == "too-large":  # answered 413, which ends Go's runtime: replaced either way
            error: Exception = OutputTooLarge(f"the runtime's response was over {self.config.max_output_bytes} bytes")
        elif delivery.outcome == "broken":
            error = self._broken(child, invocation, delivery.problem)
        else:
            error = self._failure(child, server, "before answering")
        self._discard()
        raise error

    def _broken(self, child: Child, invocation: Invocation, problem: str) -> Exception:
        """Its post broke off: a runtime that is exiting gets its exit's error, one still running the protocol's."""
        try:
            child.pump(min(invocation.deadline, time.monotonic() + _EXIT_GRACE_S), self.stdout, self.stderr,
                       done=lambda: child.returncode is not None, peer=self.server)
        except DeadlineExceeded:  # still running (the pump killed it): the broken post is the fault
            return BinaryProtocolError(f"{problem}; stderr: {self.stderr.tail()}")
        if child.returncode:
            return exit_error(child.returncode, self.stderr)
        return BinaryProtocolError(f"{problem}, then exited with status 0; stderr: {self.stderr.tail()}")

    def _serve(self, invocation: Invocation, done: Callable[[], bool], deadline: float | None = None) -> None:
        """Pump while the server talks to the runtime; its stdin is at end of file from the start."""
        assert self.server is not None
        self._pump(invocation, done, deadline=deadline, peer=self.server, close_stdin=True)

    def _start(self, invocation: Invocation) -> Child:
        """A new server and a new runtime, seen through its init (up to Lambda's 10 s)."""
        server = self.server = RuntimeServer(self.port, self.config.max_output_bytes)
        env = {**function_variables(self.program.environ), **self.program.environ}
        env["AWS_LAMBDA_RUNTIME_API"] = server.address
        env["_HANDLER"] = self.config.handler or os.path.basename(self.program.name)
        env["LAMBDA_TASK_ROOT"] = self.config.task_root
        try:
            child = self.child = self.program.start(env)
        except BaseException:
            self._discard()
            raise
        self._serve(invocation, server.ready, min(invocation.deadline, time.monotonic() + INIT_LIMIT_S))
        if not server.waiting:
            error = self._failure(child, server, "during its init")
            self._discard()
            raise error
        return child

    def _timeout(self, invocation: Invocation, deadline: float | None) -> Exception:
        if deadline is not None and (not invocation.request_id or deadline < invocation.deadline):
            return BinaryTimeout(f"the runtime did not ask for an invocation within {INIT_LIMIT_S:.0f} s of "
                                 f"starting (Lambda's init limit); stderr: {self.stderr.tail()}")
        return super()._timeout(invocation, deadline)

    def _failure(self, child: Child, server: RuntimeServer, when: str) -> Exception:
        if server.init_error is not None:
            posted = posted_error(*server.init_error)
            error = type(posted)(f"the runtime reported an init error: {posted}")
            error.document, error.during_init = posted.document, True
            return error
        if child.returncode:
            return exit_error(child.returncode, self.stderr)
        return BinaryExitError(f"the runtime exited with status {child.returncode} {when}; "
                               f"stderr: {self.stderr.tail()}")

    def _settle(self, child: Child, deadline: float) -> None:
        """Lambda stops only a runtime parked on ``next``: a signal sent while it is still between a
        response and its next poll can be lost (a shell forking curl), and its clean-up with it."""
        server = self.server
        if server is not None and not server.waiting:
            child.pump(deadline, self.stdout, self.stderr, done=lambda: server.waiting, peer=server)

    def _forget(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
