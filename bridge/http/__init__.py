"""HTTP front doors: which HTTP event format an event is, and the response its integration accepts.

One module per format (``types.EventFormat``: ``matches``, ``request``, ``response``, ``finish``), each
saying what makes an event its own. The order matters: Function URLs use payload 2.0 too, and are told
apart by their domain. Authorizer and WebSocket events are never taken for requests (``detect``); every
other event (SQS, S3, EventBridge, ...) is no HTTP event and passes through untouched.
"""

from __future__ import annotations

from .. import codec
from ..errors import BinaryTimeout, InvalidRequest
from . import alb, api_gateway_v1, api_gateway_v2, function_url
from .common import Request, Response, check_proxy_response

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..types import EventFormat

FORMATS: tuple[EventFormat, ...] = (function_url, api_gateway_v2, alb, api_gateway_v1)

__all__ = ["FORMATS", "FrontDoor", "Request", "Response", "detect", "error_response", "front_door"]


def detect(event: object) -> EventFormat | None:
    """The format module for an HTTP proxy request, or None for any other event."""
    if isinstance(event, dict) and not _answered_otherwise(event):
        for fmt in FORMATS:
            if fmt.matches(event):
                return fmt
    return None


def _answered_otherwise(event: dict) -> bool:
    """Lambda authorizers (REST ``TOKEN``/``REQUEST``, HTTP API payload 1.0 and 2.0, WebSocket ``$connect``)
    and WebSocket route events carry request fields too (``httpMethod``, ``requestContext.http``...), but
    their integration expects the binary's own answer (a policy, ``{"isAuthorized": ...}``, anything), never
    a proxy response: they pass through untouched."""
    if "methodArn" in event or "routeArn" in event or event.get("type") in ("REQUEST", "TOKEN"):
        return True
    context = event.get("requestContext")
    return isinstance(context, dict) and ("eventType" in context or "connectionId" in context)


def front_door(event: object, content_type: str = "") -> FrontDoor | None:
    """The HTTP front door ``event`` came through, or None for any other event; ``content_type`` is
    ``BRIDGE_CONTENT_TYPE``."""
    fmt = detect(event)
    if fmt is None or not isinstance(event, dict):
        return None
    return FrontDoor(fmt, event, content_type)


# The formats a binary's bytes are recognised as when it cannot say (BRIDGE_CONTENT_TYPE unset), by their start.
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"%PDF-", "application/pdf"),
               (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"), (b"PK\x03\x04", "application/zip"))


def sniff(body: bytes) -> str:
    """The content type of a common binary format (PNG, JPEG, PDF, GIF, WebP, ZIP), else ''."""
    for signature, kind in _SIGNATURES:
        if body.startswith(signature):
            return kind
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return "image/webp"
    return ""


class FrontDoor:
    """An HTTP event's integration: the request it carries, and replies made into its response."""

    __slots__ = ("format", "event", "content_type", "_request")

    def __init__(self, fmt: EventFormat, event: dict, content_type: str = "") -> None:
        self.format = fmt
        self.event = event
        self.content_type = content_type  # BRIDGE_CONTENT_TYPE: every wrapped output's type ('' to tell by it)
        self._request: Request | None = None

    def request(self) -> Request:
        if self._request is None:
            self._request = self.format.request(self.event)
        return self._request

    def output(self, raw: bytes | bytearray | memoryview, json_output: bool) -> dict:
        """The binary's stdout: its own proxy response (checked), or a 200 around the output typed by
        ``BRIDGE_CONTENT_TYPE``, else by what it is: JSON (when ``json_output``), a common binary format,
        UTF-8 text, or other bytes (base64 when not UTF-8)."""
        body = bytes(raw)
        if self.content_type:
            return self.response(Response(200, [("Content-Type", self.content_type)], body))
        sniffed = sniff(body)
        if sniffed:
            return self.response(Response(200, [("Content-Type", sniffed)], body))
        if json_output and body.strip():
            try:
                value = codec.loads(body)
            except codec.DecodeError:
                pass
            else:
                if isinstance(value, dict) and "statusCode" in value:
                    return self.format.finish(self.event, check_proxy_response(value))
                return self.response(Response(200, [("Content-Type", "application/json")], body))
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return self.response(Response(200, [("Content-Type", "application/octet-stream")], body))
        return self.response(Response(200, [("Content-Type", "text/plain; charset=utf-8")], body))

    def value(self, value: object) -> dict:
        """A result a protocol already decoded (an envelope's, a runtime's answer; bytes: a runtime's body
        that is not JSON)."""
        if isinstance(value, bytes):
            return self.output(value, json_output=False)
        if isinstance(value, dict) and "statusCode" in value:
            return self.format.finish(self.event, check_proxy_response(value))
        if isinstance(value, str):
            return self.response(Response(200, [("Content-Type", "text/plain; charset=utf-8")], value.encode()))
        return self.response(Response(200, [("Content-Type", "application/json")], codec.dumps(value)))

    def response(self, reply: Response) -> dict:
        return self.format.response(self.event, reply)

    def error(self, exc: BaseException) -> dict:
        """``BRIDGE_HTTP_ERRORS=response``: a failed call as a 502 (504 for a timeout) with a JSON body."""
        return self.response(error_response(exc))


def error_response(exc: BaseException) -> Response:
    """``BRIDGE_HTTP_ERRORS=response``: a failed call as a 502 (504 for a timeout, 400 for a request that
    cannot be read) with a JSON body."""
    status = 504 if isinstance(exc, BinaryTimeout) else 400 if isinstance(exc, InvalidRequest) else 502
    body = codec.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)})
    return Response(status, [("Content-Type", "application/json")], body)
