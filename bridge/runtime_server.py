"""A Lambda Runtime API server on loopback, for one runtime process at a time.

Runtime-API mode uses it to feed a custom-runtime ``bootstrap`` the invocations the python3 runtime
receives; the emulator uses it the other way round, to run a real runtime client (awslambdaric) outside
Lambda. It speaks HTTP/1.1 with keep-alive and Nagle disabled (a runtime client keeps one connection:
one server thread for the runtime's lifetime, none per call). Each state change (a runtime waiting on
``next``, a response, an error) writes one byte to ``wake_fd`` so that the bridge's poll loop, which is
also draining the runtime's output, wakes at once.
"""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import codec

API = "/2018-06-01/runtime"
MAX_PAYLOAD = 6 * 1024 * 1024


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


class RuntimeServer:
    """The server; ``offer`` a delivery, then wait (polling ``wake_fd``) until it is ``done``."""

    def __init__(self, port: int = 0, max_response: int = MAX_PAYLOAD) -> None:
        self.max_response = max_response  # a response body's limit (BRIDGE_MAX_OUTPUT_BYTES); errors: Lambda's
        self._lock = threading.Condition()
        self._queued: Delivery | None = None
        self._current: Delivery | None = None
        self._answered: set[str] = set()
        self._closing = False
        self.waiting = False  # a runtime is parked on ``next``: its init is over
        self.init_error: tuple[str, bytes] | None = None  # (error type header, body)
        self.wake_fd, self._wake_w = os.pipe()
        os.set_blocking(self.wake_fd, False)
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.runtime = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="runtime-api", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._httpd.server_port}"

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"!")
        except (BlockingIOError, OSError):
            pass

    def offer(self, delivery: Delivery) -> None:
        with self._lock:
            self._queued = delivery
            self._lock.notify_all()

    def withdraw(self, delivery: Delivery) -> None:
        """The bridge gave up on it (deadline, crash): a late answer gets 403, never a caller."""
        with self._lock:
            if self._queued is delivery:
                self._queued = None
            if self._current is delivery:
                self._current = None
            self._answered.add(delivery.request_id)

    def ready(self) -> bool:
        """Init is over: the runtime asked for an invocation, or reported an init error."""
        return self.waiting or self.init_error is not None

    def close(self) -> None:
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
        os.close(self.wake_fd)
        os.close(self._wake_w)

    # Called on server threads.

    def next_delivery(self) -> Delivery | None:
        with self._lock:
            self.waiting = True
            self._wake()
            while self._queued is None and not self._closing:
                self._lock.wait()
            self.waiting = False
            if self._closing:
                return None
            delivery, self._queued = self._queued, None
            self._current = delivery
            return delivery

    def claim(self, request_id: str) -> tuple[Delivery | None, int, str]:
        """Take the delivery a response or error is posted for; else the HTTP status and error type."""
        with self._lock:
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

    def complete(self, delivery: Delivery, outcome: str, body: bytes, content_type: str, error_type: str) -> None:
        """Publish the answer (after the runtime got its 202, as with Lambda) and wake the bridge."""
        delivery.answer, delivery.content_type, delivery.error_type = body, content_type, error_type
        delivery.outcome = outcome
        self._wake()

    def fail_init(self, error_type: str, body: bytes) -> None:
        with self._lock:
            self.init_error = (error_type, body)
            self._wake()


_MESSAGES = {
    "InvalidRequestID": "Invalid request ID",
    "InvalidStateTransition": "This request ID was already answered or abandoned",
    "RequestEntityTooLarge": "Exceeded maximum allowed payload size",
    "InvalidRequest": "Unknown Runtime API path",
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    runtime: RuntimeServer

    def handle_error(self, request, client_address) -> None:  # the base class's signature
        """A runtime that vanished mid-request (killed, or timed out) is the bridge's business, not noise."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "exec-bridge-runtime-api"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Quiet: the function log is for the runtime's own output."""

    def _runtime(self) -> RuntimeServer:
        assert isinstance(self.server, _Server)
        return self.server.runtime

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, error_type: str, detail: str = "") -> None:
        body = codec.dumps({"errorMessage": _MESSAGES[error_type] + detail, "errorType": error_type})
        self._send(status, body, {"Content-Type": "application/json"})

    def _body(self, limit: int) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            while length > 0:  # discard it in pieces, keeping the connection usable
                length -= len(self.rfile.read(min(length, 1 << 16))) or length
            return None
        return self.rfile.read(length)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path != f"{API}/invocation/next":
            return self._error(400, "InvalidRequest")
        delivery = self._runtime().next_delivery()
        if delivery is None:
            self.close_connection = True
            return self._send(503, b"")
        self._send(200, delivery.body, delivery.headers)

    def do_POST(self) -> None:  # noqa: N802
        runtime = self._runtime()
        parts = self.path[len(API) + 1 :].split("/") if self.path.startswith(API + "/") else []
        limit = runtime.max_response if parts[-1:] == ["response"] else MAX_PAYLOAD
        body = self._body(limit)
        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type", "")
        if parts == ["init", "error"]:
            runtime.fail_init(error_type, body or b"")
            return self._send(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
        if len(parts) != 3 or parts[0] != "invocation" or parts[2] not in ("response", "error"):
            return self._error(400, "InvalidRequest")
        delivery, status, refused = runtime.claim(parts[1])
        if delivery is None:
            return self._error(status, refused)
        try:
            if body is None:  # the invocation fails: the binary's answer cannot be delivered
                self._error(413, "RequestEntityTooLarge", f" ({limit} bytes).")
            else:
                self._send(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
        finally:
            outcome = "too-large" if body is None else parts[2]
            runtime.complete(delivery, outcome, body or b"", self.headers.get("Content-Type", ""), error_type)
