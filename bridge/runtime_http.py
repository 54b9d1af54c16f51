"""HTTP/1.x for the Runtime API server: whole requests out of the bytes a runtime client sends.

Parsing is httptools' (llhttp, compiled): everything real runtime clients send is read as they send it,
chunked bodies with their trailers (aws-lambda-go, streaming runtimes), ``Expect: 100-continue`` (curl
above 1 MiB), HTTP/1.0 with or without keep-alive, header names in any case, pipelined requests. It is
sans-IO, in the manner of h11: the server's connection feeds in what a socket received and takes out
complete requests, plus at most one interim decision (``expecting``) for a client that waits before its
body. A body over its limit is counted, not kept, so memory stays bounded whatever a runtime posts.
httptools is imported with this module, which only the proxy and the emulator load.
"""

from __future__ import annotations

try:
    import httptools
except ImportError as missing:  # a package built without it, or a pip install without the extra
    from .errors import BridgeConfigError

    raise BridgeConfigError(
        "runtime-api mode's proxy and the emulator need httptools, which is not installed: ./build.sh package "
        "ships it when serverless.yml has a function with BRIDGE_MODE: runtime-api; otherwise pip install "
        "'exec-bridge[runtime-api]' (or httptools)") from missing

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# Bytes that are not an HTTP/1.x request, or a request to switch protocols: the Runtime API has none.
ParseError = (httptools.HttpParserError, httptools.HttpParserUpgrade)


class Request:
    """One request as it arrives: its head, then its body (None once over ``limit``), then its trailers."""

    __slots__ = ("method", "path", "headers", "trailers", "body", "size", "limit", "keep_alive", "http_10",
                 "_head_done")

    def __init__(self) -> None:
        self.method = ""
        self.path = ""
        self.headers: dict[str, str] = {}  # names lower-cased; a repeated header's values comma-joined
        self.trailers: dict[str, str] = {}
        self.body: bytearray | None = bytearray()
        self.size = 0  # body bytes received, kept or not
        self.limit = 0
        self.keep_alive = True
        self.http_10 = False
        self._head_done = False

    @property
    def too_large(self) -> bool:
        return self.body is None

    def field(self, name: str) -> str:
        """A header, else a trailer of that (lower-case) name: trailers carry what was not known up front."""
        return self.headers.get(name) or self.trailers.get(name, "")

    def declared_length(self) -> int:
        try:
            return int(self.headers.get("content-length", "0"))
        except ValueError:
            return 0

    def _add(self, name: bytes, value: bytes) -> None:
        fields = self.trailers if self._head_done else self.headers
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        fields[key] = f"{fields[key]}, {text}" if key in fields else text


class RequestReader:
    """Feeds httptools; collects complete requests. ``limit_for(request)``, asked once its head is in,
    says how large its body may be."""

    __slots__ = ("_parser", "_limit_for", "current", "ready", "expecting")

    def __init__(self, limit_for: Callable[[Request], int]) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._limit_for = limit_for
        self.current: Request | None = None  # begun and not complete
        self.ready: list[Request] = []
        self.expecting: Request | None = None  # its head asked ``Expect: 100-continue``, its body awaits an answer

    def feed(self, data: bytes | memoryview) -> list[Request]:
        """What arrived; the requests it completed (``ParseError`` for bytes that are not HTTP/1.x)."""
        self._parser.feed_data(data)
        ready, self.ready = self.ready, []
        return ready

    # httptools' callbacks.

    def on_message_begin(self) -> None:
        self.current = Request()

    def on_url(self, url: bytes) -> None:
        assert self.current is not None
        self.current.path += url.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.current is not None
        self.current._add(name, value)

    def on_headers_complete(self) -> None:
        request = self.current
        assert request is not None
        parser = self._parser
        request._head_done = True
        request.method = parser.get_method().decode("latin-1")
        request.keep_alive = parser.should_keep_alive()
        request.http_10 = parser.get_http_version() == "1.0"
        request.limit = self._limit_for(request)
        if request.declared_length() > request.limit:
            request.body = None
        if request.headers.get("expect", "").lower() == "100-continue" and not request.http_10:
            self.expecting = request

    def on_body(self, data: bytes) -> None:
        request = self.current
        assert request is not None
        request.size += len(data)
        if request.body is not None:
            if request.size > request.limit:
                request.body = None  # counted from now on, never kept
            else:
                request.body += data
        if self.expecting is request:
            self.expecting = None  # the client sent its body without waiting: nothing left to answer

    def on_message_complete(self) -> None:
        request = self.current
        assert request is not None
        if self.expecting is request:
            self.expecting = None
        self.current = None
        self.ready.append(request)


REASONS = {100: "Continue", 200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden",
           413: "Payload Too Large", 500: "Internal Server Error"}
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def response_head(status: int, headers: dict[str, str], length: int, close: bool, http_10: bool) -> bytes:
    """A response's status line and headers; ``Connection`` says what happens to the connection next."""
    lines = [f"HTTP/1.1 {status} {REASONS[status]}\r\n"]
    lines += [f"{name}: {value}\r\n" for name, value in headers.items()]
    lines.append(f"Content-Length: {length}\r\n")
    if close:
        lines.append("Connection: close\r\n")
    elif http_10:
        lines.append("Connection: keep-alive\r\n")  # an HTTP/1.0 client asked to keep it: say it is kept
    lines.append("\r\n")
    return "".join(lines).encode("latin-1", "replace")
