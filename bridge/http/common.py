"""What every HTTP format shares: the request it carries, a response to shape, and the checks a
binary's own proxy response must pass before an integration sees it."""

from __future__ import annotations

import base64
import binascii

from ..errors import InvalidOutput, InvalidRequest


class Request:
    """An HTTP request as the binary (or a CGI program) sees it."""

    __slots__ = ("method", "path", "query", "headers", "body", "source_ip", "protocol", "host", "port")

    def __init__(self, method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes,
                 source_ip: str, protocol: str = "HTTP/1.1", host: str = "", port: str = "443") -> None:
        self.method = method
        self.path = path or "/"
        self.query = query
        self.headers = headers  # (name, value) pairs, names as sent; repeated names repeat
        self.body = body
        self.source_ip = source_ip
        self.protocol = protocol
        self.host = host or self.header("host") or "localhost"
        self.port = self.header("x-forwarded-port") or port

    def header(self, name: str) -> str:
        """The first value of a header (case-insensitive), or ''."""
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return ""


class Response:
    """A response before it is shaped for a format: status, header pairs, body bytes."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def body_bytes(event: dict) -> bytes:
    """The request body, base64-decoded when the event says so: strictly, nothing is silently dropped."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:  # ValueError: not ASCII
            raise InvalidRequest(f"the request body is flagged isBase64Encoded but is not base64: {exc}") from None
    return body.encode("utf-8", "surrogatepass")


def reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def check_proxy_response(value: dict) -> dict:
    """A binary's ready-made proxy response, checked so a malformed one fails here, clearly, rather
    than as an integration's bare 502."""
    status = value.get("statusCode")
    if isinstance(status, str) and status.isascii() and status.isdigit():  # "²".isdigit() too
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise InvalidOutput(f"proxy response statusCode must be an integer from 100 to 599, not {status!r}")
    for key in ("headers", "multiValueHeaders"):
        headers = value.get(key)
        if headers is None:
            continue
        if not isinstance(headers, dict):
            raise InvalidOutput(f"proxy response {key} must be an object, not {type(headers).__name__}")
        for name, item in headers.items():
            items = item if key == "multiValueHeaders" else [item]
            if not isinstance(items, list) or not all(isinstance(v, (str, int, float, bool)) for v in items):
                raise InvalidOutput(f"proxy response {key}[{name!r}] has a value that is not a string: {item!r}")
    body = value.get("body")
    if body is not None and not isinstance(body, str):
        raise InvalidOutput(f"proxy response body must be a string (JSON-encode it first), not {type(body).__name__}")
    if not isinstance(value.get("isBase64Encoded", False), bool):
        raise InvalidOutput("proxy response isBase64Encoded must be true or false")
    if value.get("isBase64Encoded") and body:
        try:
            base64.b64decode(body.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):  # binascii.Error is a ValueError
            raise InvalidOutput("proxy response isBase64Encoded is true but its body is not base64") from None
    return dict(value, statusCode=status)


def group_headers(headers: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name, []).append(value)
    return grouped


def encode_body(body: bytes) -> tuple[str, bool]:
    """The body as a proxy response carries it: text when it is UTF-8, else base64."""
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True
