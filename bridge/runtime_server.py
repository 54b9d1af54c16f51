"""A Lambda Runtime API server on loopback, for one runtime process at a time.

Runtime-API mode (proxy) uses it to feed a custom-runtime ``bootstrap`` the invocations the python3 runtime
receives; the emulator uses it the other way round, to run a real runtime client (awslambdaric) outside
Lambda. The Runtime API is four endpoints, so this is a small HTTP/1.1 server (keep-alive, Nagle off, a
body by ``Content-Length``) with no thread of its own: its sockets are watched by the same poll loop that
drains the runtime's output (``types.Peer``, ``pump.Exchange``), and a request is answered the moment it
is read. ``serve`` runs that loop on its own, for a runtime client spoken to without a binary to pump.
"""

from __future__ import annotations

import select
import socket
import time

from . import codec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

API = "/2018-06-01/runtime"
MAX_PAYLOAD = 6 * 1024 * 1024
_READ = select.POLLIN | select.POLLHUP | select.POLLERR
_READ_WRITE = _READ | select.POLLOUT
_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden", 413: "Payload Too Large",
            503: "Service Unavailable"}
_MESSAGES = {
    "InvalidRequestID": "Invalid request ID",
    "InvalidStateTransition": "This request ID was already answered or abandoned",
    "RequestEntityTooLarge": "Exceeded maximum allowed payload size",
    "InvalidRequest": "Unknown Runtime API path, or a request this server cannot read",
}


class Delivery:
    """One event handed to the runtime, and what it answered."""

    __slots__ = ("request_id", "body", "headers", "outcome", "answer", "content_type", "error_type")

    def __init__(self, request_id: str, body: bytes, headers: dict[str, str]) -> None:
        self.request_id = request_id
        self.body = body
        self.headers = headers
        self.outcome: str | None = None  # "response", "error" or "too-large"
        self.answer = b""
        self.content_type = ""
        self.error_type = ""

    def done(self) -> bool:
        return self.outcome is not None


class _Connection:
    """One client connection: what has arrived and not been handled, what is left to send."""

    __slots__ = ("sock", "inbox", "outbox", "discard", "discarded_for", "body", "received", "reading_for")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbox = bytearray()
        self.outbox: list[memoryview] = []  # what is left to send, sent with one sendmsg (no joining copy)
        self.discard = 0  # bytes of an over-long body still to read and drop
        self.discarded_for: tuple[str, list[str], str, str] | None = None  # the request the dropped body was for
        self.body: bytearray | None = None  # a large body, read straight into place (recv_into)
        self.received = 0
        self.reading_for: tuple[str, list[str], str, str] | None = None


class RuntimeServer:
    """The server: ``offer`` a delivery, then pump (``Child.pump(peer=server)``) until it is ``done``."""

    def __init__(self, port: int = 0, max_response: int = MAX_PAYLOAD) -> None:
        self.max_response = max_response  # a response body's limit (BRIDGE_MAX_OUTPUT_BYTES); errors: Lambda's
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.setblocking(False)
        self._connections: dict[int, _Connection] = {}
        self._poller: select.poll | None = None
        self._parked: _Connection | None = None  # a ``next`` waiting for a delivery
        self._queued: Delivery | None = None
        self._current: Delivery | None = None
        self._answered: set[str] = set()
        self.waiting = False  # a runtime is parked on ``next``: its init is over
        self.init_error: tuple[str, bytes] | None = None  # (error type header, body)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._listener.getsockname()[1]}"

    # The bridge's side.

    def offer(self, delivery: Delivery) -> None:
        self._queued = delivery
        if self._parked is not None:
            connection, self._parked = self._parked, None
            self._deliver(connection)

    def withdraw(self, delivery: Delivery) -> None:
        """The bridge gave up on it (deadline, crash): a late answer gets 403, never a caller."""
        if self._queued is delivery:
            self._queued = None
        if self._current is delivery:
            self._current = None
        self._answered.add(delivery.request_id)

    def ready(self) -> bool:
        """Init is over: the runtime asked for an invocation, or reported an init error."""
        return self.waiting or self.init_error is not None

    def close(self) -> None:
        for fd in list(self._connections):
            self._drop(fd)
        self._listener.close()

    # The poll loop's side (types.Peer).

    def watch(self, poller: select.poll) -> None:
        self._poller = poller
        poller.register(self._listener, _READ)
        for fd, connection in self._connections.items():
            poller.register(fd, _READ_WRITE if connection.outbox else _READ)

    def unwatch(self, poller: select.poll) -> None:
        for fd in (self._listener.fileno(), *self._connections):
            try:
                poller.unregister(fd)
            except KeyError:
                pass
        self._poller = None

    def handle(self, fd: int, events: int) -> None:
        """An event on one of the server's sockets: accept, read and answer, or send what is pending."""
        if fd == self._listener.fileno():
            self._accept()
            return
        connection = self._connections.get(fd)
        if connection is None:
            return
        if events & select.POLLOUT:
            self._send(fd, connection)
        if events & (select.POLLIN | select.POLLHUP | select.POLLERR) and fd in self._connections:
            self._receive(fd, connection)

    def serve(self, until: Callable[[], bool], timeout: float = 10.0) -> None:
        """Run the loop on its own until ``until()`` (or ``timeout`` seconds): a client without a binary."""
        poller = select.poll()
        self.watch(poller)
        limit = time.monotonic() + timeout
        try:
            while not until() and time.monotonic() < limit:
                for fd, events in poller.poll(50):
                    self.handle(fd, events)
        finally:
            self.unwatch(poller)

    # HTTP.

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # or every exchange stalls ~40 ms
        self._connections[sock.fileno()] = _Connection(sock)
        if self._poller is not None:
            self._poller.register(sock, _READ)

    def _receive(self, fd: int, connection: _Connection) -> None:
        if connection.body is not None:  # the rest of a large body, straight into place
            try:
                got = connection.sock.recv_into(memoryview(connection.body)[connection.received:])
            except BlockingIOError:
                return
            except OSError:
                got = 0
            if not got:
                self._drop(fd)
                return
            connection.received += got
            if connection.received == len(connection.body):
                body, connection.body = connection.body, None
                assert connection.reading_for is not None
                self._request(connection, *connection.reading_for, bytes(body))
            return
        try:
            data = connection.sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError:  # reset: the runtime was killed
            data = b""
        if not data:
            self._drop(fd)
            return
        if connection.discard:
            taken = min(connection.discard, len(data))
            connection.discard -= taken
            data = data[taken:]
            if not connection.discard and connection.discarded_for is not None:
                self._request(connection, *connection.discarded_for, None)
                connection.discarded_for = None
        connection.inbox += data
        while (fd in self._connections and not connection.discard and connection.body is None
               and self._next_request(connection)):
            pass

    def _next_request(self, connection: _Connection) -> bool:
        """Handle one complete request from the inbox; False when it holds none yet."""
        inbox = connection.inbox
        end = inbox.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(inbox[:end]).decode("latin-1").split("\r\n")
        method, _, rest = head[0].partition(" ")
        path = rest.rsplit(" ", 1)[0]
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        del inbox[:end + 4]
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._respond(connection, 400, _error_body("InvalidRequest"), {"Content-Type": "application/json"})
            return True
        length = int(headers.get("content-length") or 0)
        parts = path[len(API) + 1:].split("/") if path.startswith(API + "/") else []
        request = (method, parts, headers.get("lambda-runtime-function-error-type", ""),
                   headers.get("content-type", ""))
        limit = self.max_response if parts[-1:] == ["response"] else MAX_PAYLOAD
        if length > limit:  # drop the body as it comes, keeping the connection usable
            dropped = min(length, len(inbox))
            del inbox[:dropped]
            connection.discard = length - dropped
            if connection.discard:
                connection.discarded_for = request
                return False
            self._request(connection, *request, None)
            return True
        if len(inbox) >= length:
            body = bytes(inbox[:length])
            del inbox[:length]
            self._request(connection, *request, body)
            return True
        connection.body = bytearray(length)  # the rest goes straight into place as it arrives
        connection.body[:len(inbox)] = inbox
        connection.received = len(inbox)
        connection.reading_for = request
        inbox.clear()
        return False

    def _request(self, connection: _Connection, method: str, parts: list[str], error_type: str,
                 content_type: str, body: bytes | None) -> None:
        """Answer one request; ``body`` None: it was over the limit."""
        if method == "GET" and parts == ["invocation", "next"]:
            self.waiting = True
            if self._queued is not None:
                self._deliver(connection)
            else:
                self._parked = connection
            return
        if method == "POST" and parts == ["init", "error"]:
            self.init_error = (error_type, body or b"")
            self._respond(connection, 202, b'{"status":"OK"}', {"Content-Type": "application/json"})
            return
        if method != "POST" or len(parts) != 3 or parts[0] != "invocation" or parts[2] not in ("response", "error"):
            self._respond(connection, 400, _error_body("InvalidRequest"), {"Content-Type": "application/json"})
            return
        delivery, status, refused = self._claim(parts[1])
        if delivery is None:
            self._respond(connection, status, _error_body(refused), {"Content-Type": "application/json"})
            return
        if body is None:  # the invocation fails: the binary's answer cannot be delivered
            limit = self.max_response if parts[2] == "response" else MAX_PAYLOAD
            self._respond(connection, 413, _error_body("RequestEntityTooLarge", f" ({limit} bytes)."),
                          {"Content-Type": "application/json"})
            delivery.outcome = "too-large"
            return
        self._respond(connection, 202, b'{"status":"OK"}', {"Content-Type": "application/json"})
        delivery.answer, delivery.content_type, delivery.error_type = body, content_type, error_type
        delivery.outcome = parts[2]

    def _claim(self, request_id: str) -> tuple[Delivery | None, int, str]:
        """Take the delivery a response or error is posted for; else the HTTP status and error type."""
        current = self._current
        if current is None or current.request_id != request_id:
            if request_id in self._answered:
                return None, 403, "InvalidStateTransition"
            return None, 400, "InvalidRequestID"
        self._current = None
        if len(self._answered) > 1024:
            self._answered.clear()  # stale ids only matter for the last few calls
        self._answered.add(request_id)
        return current, 202, ""

    def _deliver(self, connection: _Connection) -> None:
        delivery, self._queued = self._queued, None
        assert delivery is not None
        self.waiting = False
        self._current = delivery
        self._respond(connection, 200, delivery.body, delivery.headers)

    def _respond(self, connection: _Connection, status: int, body: bytes, headers: dict[str, str]) -> None:
        head = f"HTTP/1.1 {status} {_REASONS[status]}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        connection.outbox += [memoryview(f"{head}Content-Length: {len(body)}\r\n\r\n".encode("latin-1", "replace")),
                              memoryview(body)]
        self._send(connection.sock.fileno(), connection)

    def _send(self, fd: int, connection: _Connection) -> None:
        views = connection.outbox
        try:
            sent = connection.sock.sendmsg(views)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._drop(fd)
            return
        while views and sent >= len(views[0]):
            sent -= len(views.pop(0))
        if sent:
            views[0] = views[0][sent:]
        if self._poller is not None:
            self._poller.modify(fd, _READ_WRITE if views else _READ)

    def _drop(self, fd: int) -> None:
        connection = self._connections.pop(fd, None)
        if connection is None:
            return
        if self._parked is connection:
            self._parked = None
        if self._poller is not None:
            try:
                self._poller.unregister(fd)
            except KeyError:
                pass
        connection.sock.close()


def _error_body(error_type: str, detail: str = "") -> bytes:
    return codec.dumps({"errorMessage": _MESSAGES[error_type] + detail, "errorType": error_type})
