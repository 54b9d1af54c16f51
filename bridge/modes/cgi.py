"""CGI mode: a legacy CGI program (RFC 3875) serves HTTP events, unchanged.

Per request: the meta-variables in the environment, the request body on stdin, and the CGI response
on stdout (header fields, a blank line, the body) turned into the event format's proxy response.
A process per request, exactly as a web server runs CGI: this is oneshot mode with a CGI face.
"""

from __future__ import annotations

from .. import logs
from ..capture import too_large
from ..http.common import Request, Response
from ..reply import HttpAnswer
from .oneshot import Oneshot

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..binary import Program
    from ..config import Config
    from ..event import Event
    from ..invocation import Invocation

SERVER_SOFTWARE = "exec-bridge"
# Bytes of a CGI response that are its header section, not the body BRIDGE_MAX_OUTPUT_BYTES counts.
HEADER_ALLOWANCE = 64 * 1024


class MalformedCgiResponse(ValueError):
    """The program's output is not a CGI response; the client gets a 502."""


def meta_variables(request: Request) -> dict[str, str]:
    """RFC 3875 section 4.1, plus HTTP_* for every request header."""
    env = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_SOFTWARE": SERVER_SOFTWARE,
        "SERVER_PROTOCOL": request.protocol,
        "SERVER_NAME": request.host.split(":")[0],
        "SERVER_PORT": request.port,
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query,
        "REQUEST_URI": request.path + (f"?{request.query}" if request.query else ""),
        "REMOTE_ADDR": request.source_ip,
        "CONTENT_TYPE": request.header("content-type"),
    }
    if request.body:
        env["CONTENT_LENGTH"] = str(len(request.body))
    if request.header("x-forwarded-proto") == "https" or request.port == "443":
        env["HTTPS"] = "on"
    for name, value in request.headers:
        key = "HTTP_" + name.upper().replace("-", "_")
        if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            continue
        separator = "; " if key == "HTTP_COOKIE" else ", "
        env[key] = f"{env[key]}{separator}{value}" if key in env else value
    return env


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_response(output: bytes) -> Response:
    """A CGI response (RFC 3875 section 6): header fields up to a blank line, then the body."""
    ends = [(output.find(sep), sep) for sep in (b"\r\n\r\n", b"\n\n")]
    found = [(at, sep) for at, sep in ends if at >= 0]
    if not found:
        raise MalformedCgiResponse(f"no blank line ends the header section (output starts {output[:80]!r})")
    at, sep = min(found)
    head, body = output[:at], output[at + len(sep):]
    status, headers, location = None, [], None
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        name, colon, value = line.partition(b":")
        if not colon or not name.strip() or b" " in name.strip():
            raise MalformedCgiResponse(f"not a header field: {line[:80]!r}")
        name_text, value_text = _text(name.strip()), _text(value.strip())
        if name_text.lower() == "status":
            code = value_text.split(" ", 1)[0]
            if not (code.isdigit() and 100 <= int(code) <= 599):
                raise MalformedCgiResponse(f"bad Status field: {value_text!r}")
            status = int(code)
            continue
        if name_text.lower() == "location":
            location = value_text
        headers.append((name_text, value_text))
    if status is None and location is None and not any(n.lower() == "content-type" for n, _ in headers):
        raise MalformedCgiResponse("the response has none of Content-Type, Location or Status")
    if status is None:
        status = 302 if location is not None else 200
    return Response(status, headers, body)


class Cgi:
    """Serves HTTP events only: ``Event.request`` refuses any other with ``UnsupportedEvent``."""

    http_only = True
    independent_calls = True
    __slots__ = ("runner",)

    def __init__(self, program: Program, config: Config) -> None:
        self.runner = Oneshot(program, config)

    def call(self, event: Event, invocation: Invocation) -> HttpAnswer:
        request = event.request()
        output = self.runner.run(request.body, invocation, meta_variables(request), HEADER_ALLOWANCE)
        try:
            response = parse_response(bytes(output))
            if len(response.body) > self.runner.config.max_output_bytes:
                raise too_large(self.runner.config.max_output_bytes)
            return HttpAnswer(response)
        except MalformedCgiResponse as exc:
            logs.warn(f"malformed CGI response, answering 502: {exc}")
            body = b"502 Bad Gateway: malformed CGI response\n"
            return HttpAnswer(Response(502, [("Content-Type", "text/plain; charset=utf-8")], body))

    def start(self) -> None:
        self.runner.start()

    def close(self) -> None:
        self.runner.close()
