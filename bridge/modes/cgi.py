"""CGI mode: a legacy CGI program (RFC 3875) serves HTTP events, unchanged.

Per request: the meta-variables in the environment, the request body on stdin, and the CGI response
on stdout (header fields, a blank line, the body) turned into the event format's proxy response.
A process per request, exactly as a web server runs CGI: this is oneshot mode with a CGI face.

A web server shields a CGI program, and so does this mode, as Apache and nginx do: the program's
environment is the meta-variables, the request's ``HTTP_*`` headers and a short base, never the function's
own variables (its AWS credentials) unless ``BRIDGE_CGI_PASS_ENV`` names them; a ``Proxy`` header never
becomes ``HTTP_PROXY`` (httpoxy); a header name outside ``[A-Za-z0-9-]`` (``x_user`` posing as ``x-user``)
is dropped and logged; a request no web server would pass on (control characters, a method that is no
token, a flood of headers) is answered 400 without running the program.
"""

from __future__ import annotations

from .. import logs
from ..capture import too_large
from ..http.common import Request, Response
from ..reply import HttpAnswer
from .oneshot import Oneshot

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..binary import Program
    from ..config import Config
    from ..event import Event
    from ..invocation import Invocation

SERVER_SOFTWARE = "exec-bridge"
# Bytes of a CGI response that are its header section, not the body BRIDGE_MAX_OUTPUT_BYTES counts.
HEADER_ALLOWANCE = 64 * 1024
# What a CGI program gets of the function's environment, BRIDGE_CGI_PASS_ENV aside: where to find programs
# and libraries (LD_LIBRARY_PATH: Lambda's, with /var/task/lib), its locale and zone, where to write.
BASE_VARIABLES = ("PATH", "LD_LIBRARY_PATH", "LANG", "TZ", "TMPDIR", "HOME", "LAMBDA_TASK_ROOT")
MAX_HEADERS = 100  # Apache's LimitRequestFields; API Gateway's own limits are lower
MAX_FIELD_BYTES = 8190  # Apache's LimitRequestFieldSize: one header, name and value
_NAME_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")
_TOKEN_CHARACTERS = _NAME_CHARACTERS | frozenset("!#$%&'*+.^_`|~")  # RFC 9110's tchar: a method is a token
_CONTROL = frozenset(map(chr, [*range(0x20), 0x7F]))
_CONTROL_BUT_TAB = _CONTROL - {"\t"}


class MalformedCgiResponse(ValueError):
    """The program's output is not a CGI response; the client gets a 502."""


class BadRequest(ValueError):
    """A request no web server would hand a CGI program; the client gets a 400 and the program never runs."""


def cgi_environment(environ: Mapping[str, str], pass_env: tuple[str, ...]) -> dict[str, str]:
    """What every request's environment starts from: ``BASE_VARIABLES``, and the function's variables
    that ``pass_env`` names (names or shell-style patterns)."""
    kept = {name: environ[name] for name in BASE_VARIABLES if name in environ}
    if pass_env:
        from fnmatch import fnmatchcase  # only when asked for: it imports re

        kept.update((name, value) for name, value in environ.items()
                    if any(fnmatchcase(name, pattern) for pattern in pass_env))
    return kept


def meta_variables(request: Request) -> tuple[dict[str, str], list[str]]:
    """RFC 3875 section 4.1, plus HTTP_* for every request header a web server would pass on; and the names
    of the headers dropped. ``BadRequest`` for a request that cannot be put in an environment at all."""
    _check_request(request)
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
    dropped = []
    for name, value in request.headers:
        if not name or not set(name) <= _NAME_CHARACTERS or name.lower() == "proxy":
            dropped.append(name)  # x_user would pose as x-user; Proxy would become HTTP_PROXY (httpoxy)
            continue
        key = "HTTP_" + name.upper().replace("-", "_")
        if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            continue
        separator = "; " if key == "HTTP_COOKIE" else ", "
        env[key] = f"{env[key]}{separator}{value}" if key in env else value
    if any("\0" in value for value in env.values()):  # the event's own fields (its host, its source address)
        raise BadRequest("a request field holds a NUL character")
    return env, dropped


def _check_request(request: Request) -> None:
    """What a web server refuses with a 400 before any CGI program sees it."""
    if not request.method or not set(request.method) <= _TOKEN_CHARACTERS:
        raise BadRequest(f"the method {request.method[:40]!r} is not an HTTP token")
    if not _CONTROL.isdisjoint(request.path) or not _CONTROL.isdisjoint(request.query):
        raise BadRequest("the path or the query string holds control characters")
    if len(request.headers) > MAX_HEADERS:
        raise BadRequest(f"{len(request.headers)} header fields, more than {MAX_HEADERS}")
    for name, value in request.headers:
        if len(name) + len(value) + 2 > MAX_FIELD_BYTES:
            raise BadRequest(f"the header {name[:40]!r} is over {MAX_FIELD_BYTES} bytes")
        if not _CONTROL_BUT_TAB.isdisjoint(value) or not _CONTROL.isdisjoint(name):
            raise BadRequest(f"the header {name[:40]!r} holds control characters")


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
    __slots__ = ("runner", "base")

    def __init__(self, program: Program, config: Config) -> None:
        self.base = cgi_environment(program.environ, config.cgi_pass_env)
        self.runner = Oneshot(program, config)

    def call(self, event: Event, invocation: Invocation) -> HttpAnswer:
        request = event.request()
        try:
            meta, dropped = meta_variables(request)
        except BadRequest as exc:
            logs.warn(f"refused a request, answering 400 without running the CGI program: {exc}")
            return _plain(400, b"400 Bad Request\n")
        for name in dict.fromkeys(dropped):
            logs.warn(f"dropped the request header {name!r}: a CGI program never sees a Proxy header (httpoxy) "
                      f"or a name outside [A-Za-z0-9-]")
        output = self.runner.run(request.body, invocation, self._environment(invocation, meta), HEADER_ALLOWANCE)
        try:
            response = parse_response(bytes(output))
            if len(response.body) > self.runner.config.max_output_bytes:
                raise too_large(self.runner.config.max_output_bytes)
            return HttpAnswer(response)
        except MalformedCgiResponse as exc:
            logs.warn(f"malformed CGI response, answering 502: {exc}")
            return _plain(502, b"502 Bad Gateway: malformed CGI response\n")

    def _environment(self, invocation: Invocation, meta: dict[str, str]) -> dict[str, str]:
        """The base, the call's own variables (not the function's ARN or context), then the meta-variables,
        which nothing can shadow."""
        env = invocation.environ(self.base, function=False)
        env.update(meta)
        return env

    def start(self) -> None:
        self.runner.start()

    def close(self) -> None:
        self.runner.close()


def _plain(status: int, body: bytes) -> HttpAnswer:
    return HttpAnswer(Response(status, [("Content-Type", "text/plain; charset=utf-8")], body))
