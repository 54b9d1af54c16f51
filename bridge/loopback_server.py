"""A small HTTP/1.x server on loopback with no thread of its own: its sockets are watched by the poll loop
that drains a binary's output (``types.Peer``, ``pump.Exchange``), and a request is handled the moment it is
read. What it serves is a subclass's (``runtime_server``); parsing is ``runtime_http``'s. Keep-alive, Nagle
off, ``100 Continue`` or a final answer to a client that waits for one, and a connection closed after an
answer that says so. ``serve`` runs the loop on its own, for a client spoken to without a binary to pump.
"""

from __future__ import annotations

import select
import socket
import time

from .runtime_http import CONTINUE, ParseError, Request, RequestReader, response_head

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

_READ = select.POLLIN | select.POLLHUP | select.POLLERR
_READ_WRITE = _READ | select.POLLOUT
_RECV_SIZE = 1 << 18
JSON = {"Content-Type": "application/json"}


class _Connection:
    """One client connection: its parser, what is left to send, and whether it closes once that is sent."""

    __slots__ = ("sock", "reader", "outbox", "closing")

    def __init__(self, sock: socket.socket, reader: RequestReader) -> None:
        self.sock = sock
        self.reader = reader
        self.outbox: list[memoryview] = []  # sent with one sendmsg, no joining copy
        self.closing = False


class LoopbackServer:
    """Sockets and HTTP framing; a subclass answers requests (``_request``), sets body limits (``_limit_for``)
    and hears of a request that will never complete (``_broken``)."""

    _malformed = b""  # the body that answers a request that is not HTTP/1.x

    def __init__(self, port: int = 0) -> None:
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.setblocking(False)
        self._connections: dict[int, _Connection] = {}
        self._poller: select.poll | None = None
        self._buffer = bytearray(_RECV_SIZE)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._listener.getsockname()[1]}"

    def close(self) -> None:
        for fd in list(self._connections):
            self._drop(fd)
        self._listener.close()

    def _limit_for(self, request: Request) -> int:
        raise NotImplementedError

    def _request(self, connection: _Connection, request: Request) -> None:
        raise NotImplementedError

    def _broken(self, request: Request | None, problem: str) -> None:
        """``request`` (None: not known) will never complete; nothing by default."""

    def _closed(self, connection: _Connection) -> None:
        """``connection`` is gone, perhaps in the middle of a request (``connection.reader.current``)."""

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
            self._send(connection)
        if events & _READ and fd in self._connections:
            self._receive(connection)

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

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # or every exchange stalls ~40 ms
        self._connections[sock.fileno()] = _Connection(sock, RequestReader(self._limit_for))
        if self._poller is not None:
            self._poller.register(sock, _READ)

    def _receive(self, connection: _Connection) -> None:
        try:
            got = connection.sock.recv_into(self._buffer)
        except BlockingIOError:
            return
        except OSError:  # reset: the runtime was killed
            got = 0
        if not got:
            self._drop(connection.sock.fileno())
            return
        if connection.closing:
            return  # what follows a refused request is not read
        reader = connection.reader
        try:
            requests = reader.feed(memoryview(self._buffer)[:got])
        except ParseError as exc:
            self._broken(reader.current, f"the runtime sent a request that is not HTTP/1.x ({exc})")
            self._respond(connection, None, 400, self._malformed)
            return
        for request in requests:
            self._request(connection, request)
        expecting = reader.expecting
        if expecting is not None:
            reader.expecting = None
            if expecting.too_large:  # a final answer instead of 100 Continue: its body is never read
                connection.closing = True
                self._request(connection, expecting)
            else:
                connection.outbox.append(memoryview(CONTINUE))
                self._send(connection)

    def _respond(self, connection: _Connection, request: Request | None, status: int, body: bytes,
                 headers: dict[str, str] = JSON) -> None:
        """Answer ``request`` (None: one that could not be read, after which the connection closes)."""
        close = connection.closing or request is None or not request.keep_alive
        connection.closing = close
        http_10 = request is not None and request.http_10
        connection.outbox += [memoryview(response_head(status, headers, len(body), close, http_10)), memoryview(body)]
        self._send(connection)

    def _send(self, connection: _Connection) -> None:
        views, fd = connection.outbox, connection.sock.fileno()
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
        if not views and connection.closing:
            self._drop(fd)
        elif self._poller is not None:
            self._poller.modify(fd, _READ_WRITE if views else _READ)

    def _drop(self, fd: int) -> None:
        connection = self._connections.pop(fd, None)
        if connection is None:
            return
        self._closed(connection)
        if self._poller is not None:
            try:
                self._poller.unregister(fd)
            except KeyError:
                pass
        connection.sock.close()
