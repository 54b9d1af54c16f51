"""A Lambda Runtime API server on loopback, for one runtime process or several workers at once.

Runtime-API mode (proxy) uses it to feed a custom-runtime ``bootstrap`` the invocations the python3 runtime
receives; the emulator uses it the other way round, to run a real runtime client (awslambdaric, several
workers with ``AWS_LAMBDA_MAX_CONCURRENCY``) outside Lambda. Its sockets are watched by the same poll loop
that drains the runtime's output (``types.Peer``, ``pump.Exchange``), with no thread of its own, and a
request is answered the moment it is read. HTTP itself is ``runtime_http``'s; this module is the API:
``next`` parks until a delivery is offered, a post is matched to its delivery by request id, and every
answer has the status real clients insist on (200 from ``next``, 202 from a post). ``serve`` runs the loop
on its own, for a runtime client spoken to without a binary to pump.
"""

from __future__ import annotations

import base64
import binascii
from collections import deque

from . import codec
from .loopback_server import LoopbackServer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .loopback_server import _Connection
    from .runtime_http import Request

API = "/2018-06-01/runtime"
MAX_PAYLOAD = 6 * 1024 * 1024
STREAMING = "streaming"  # the only Lambda-Runtime-Function-Response-Mode there is
_ACCEPTED = b'{"status":"OK"}'
_MESSAGES = {
    "InvalidRequestID": "Invalid request ID",
    "InvalidStateTransition": "This request ID was already answered or abandoned",
    "RequestEntityTooLarge": "Exceeded maximum allowed payload size",
    "InvalidFunctionResponseMode": "Lambda-Runtime-Function-Response-Mode must be 'streaming'",
    "InvalidRequest": "Unknown Runtime API path, or a request this server cannot read",
}


class Delivery:
    """One event handed to the runtime, and what it answered."""

    __slots__ = ("request_id", "body", "headers", "outcome", "answer", "content_type", "error_type", "streamed",
                 "problem", "delivered")

    def __init__(self, request_id: str, body: bytes, headers: dict[str, str]) -> None:
        self.request_id = request_id
        self.body = body
        self.headers = headers
        self.outcome: str | None = None  # "response", "error", "too-large" or "broken" (``problem`` says how)
        self.answer: bytes | bytearray = b""  # the body as received: no copy of a 6 MB answer
        self.content_type = ""
        self.error_type = ""
        self.streamed = False  # posted with Lambda-Runtime-Function-Response-Mode: streaming
        self.problem = ""
        self.delivered = False  # handed to a ``next``: from then on the runtime has it

    def done(self) -> bool:
        return self.outcome is not None


class RuntimeServer(LoopbackServer):
    """The server: ``offer`` deliveries, then pump (``Child.pump(peer=server)``) until they are ``done``."""

    _malformed = codec.dumps({"errorMessage": _MESSAGES["InvalidRequest"], "errorType": "InvalidRequest"})

    def __init__(self, port: int = 0, max_response: int = MAX_PAYLOAD) -> None:
        super().__init__(port)
        self.max_response = max_response  # a response body's limit (BRIDGE_MAX_OUTPUT_BYTES); errors: Lambda's
        self._parked: deque[tuple[_Connection, Request]] = deque()  # ``next`` requests waiting for a delivery
        self._queued: deque[Delivery] = deque()
        self._current: dict[str, Delivery] = {}  # delivered, not yet answered
        self._answered: set[str] = set()
        self.init_error: tuple[str, bytes] | None = None  # (error type header, body)

    @property
    def waiting(self) -> bool:
        """A runtime is parked on ``next``: its init is over, and it is idle."""
        return bool(self._parked)

    # The bridge's side.

    def offer(self, delivery: Delivery) -> None:
        self._queued.append(delivery)
        self._dispatch()

    def withdraw(self, delivery: Delivery) -> None:
        """The bridge gave up on it (deadline, crash): a late answer gets 403, never a caller."""
        if delivery in self._queued:
            self._queued.remove(delivery)
        self._current.pop(delivery.request_id, None)
        self._remember(delivery.request_id)

    def ready(self) -> bool:
        """Init is over: the runtime asked for an invocation, or reported an init error."""
        return self.waiting or self.init_error is not None

    # The Runtime API.

    def _limit_for(self, request: Request) -> int:
        return self.max_response if request.path.endswith("/response") else MAX_PAYLOAD

    def _request(self, connection: _Connection, request: Request) -> None:
        method, path = request.method, request.path
        parts = path[len(API) + 1:].split("/") if path.startswith(API + "/") else []
        if method == "GET" and parts == ["invocation", "next"]:
            self._parked.append((connection, request))
            self._dispatch()
        elif method == "POST" and parts == ["init", "error"]:
            self.init_error = (request.field("lambda-runtime-function-error-type"), bytes(request.body or b""))
            self._respond(connection, request, 202, _ACCEPTED)
        elif method == "POST" and len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            self._post(connection, request, parts[1], parts[2])
        else:
            self._respond(connection, request, 400, _error_body("InvalidRequest"))

    def _post(self, connection: _Connection, request: Request, request_id: str, kind: str) -> None:
        """A response or an error for ``request_id``: matched to its delivery, then accepted with 202."""
        mode = request.headers.get("lambda-runtime-function-response-mode", "")
        if mode and (mode.lower() != STREAMING or kind != "response"):
            self._respond(connection, request, 400, _error_body("InvalidFunctionResponseMode"))
            return
        delivery = self._current.get(request_id)
        if delivery is None:
            refused = "InvalidStateTransition" if request_id in self._answered else "InvalidRequestID"
            self._respond(connection, request, 403 if request_id in self._answered else 400, _error_body(refused))
            return
        del self._current[request_id]
        self._remember(request_id)
        if request.too_large:  # the invocation fails: the answer cannot be delivered
            self._respond(connection, request, 413, _error_body("RequestEntityTooLarge", f" ({request.limit} bytes)."))
            delivery.outcome = "too-large"
            return
        self._respond(connection, request, 202, _ACCEPTED)
        delivery.answer, delivery.content_type = request.body or b"", request.headers.get("content-type", "")
        delivery.streamed = bool(mode)
        delivery.error_type = request.field("lambda-runtime-function-error-type")
        delivery.outcome = kind
        failed_mid_body = request.trailers.get("lambda-runtime-function-error-body")
        if failed_mid_body is not None:  # aws-lambda-go, Node: the body broke off, the trailers say why
            delivery.outcome = "error"
            try:
                delivery.answer = base64.b64decode(failed_mid_body, validate=True)
            except (binascii.Error, ValueError):
                delivery.answer = failed_mid_body.encode("latin-1")

    def _broken(self, request: Request | None, problem: str) -> None:
        """A post that will never complete: its delivery fails with ``problem``."""
        if request is None or not request.path.startswith(API + "/invocation/"):
            return
        delivery = self._current.pop(request.path[len(API) + 12:].split("/")[0], None)
        if delivery is not None:
            self._remember(delivery.request_id)
            delivery.outcome, delivery.problem = "broken", problem

    def _closed(self, connection: _Connection) -> None:
        request = connection.reader.current
        if request is not None and not connection.closing:
            self._broken(request, f"the runtime closed its connection after {request.size} bytes of its post")
        self._parked = deque(p for p in self._parked if p[0] is not connection)

    def _dispatch(self) -> None:
        """Hand queued deliveries to parked ``next`` requests, oldest first."""
        while self._queued and self._parked:
            connection, request = self._parked.popleft()
            delivery = self._queued.popleft()
            delivery.delivered = True
            self._current[delivery.request_id] = delivery
            self._respond(connection, request, 200, delivery.body, delivery.headers)

    def _remember(self, request_id: str) -> None:
        if len(self._answered) > 1024:
            self._answered.clear()  # stale ids only matter for the last few calls
        self._answered.add(request_id)


def _error_body(error_type: str, detail: str = "") -> bytes:
    return codec.dumps({"errorMessage": _MESSAGES[error_type] + detail, "errorType": error_type})
