"""HTTP front doors: which HTTP event format an event is, the request it carries, and the response
its integration accepts.

One module per format, each answering "is this event mine?" (``matches``), "what request is it?"
(``request``) and "how is my response shaped?" (``response``). The order matters: Function URLs use
payload 2.0 too, and are told apart by their domain.
"""

from __future__ import annotations

from .. import codec
from ..errors import BinaryTimeout
from . import alb, api_gateway_v1, api_gateway_v2, function_url
from .common import Request, Response, check_proxy_response

FORMATS = (function_url, api_gateway_v2, alb, api_gateway_v1)

__all__ = ["FORMATS", "Request", "Response", "detect", "error_response", "shape_output", "shape_value"]


def detect(event: object):
    """The format module for an HTTP event, or None for any other event."""
    if isinstance(event, dict):
        for fmt in FORMATS:
            if fmt.matches(event):
                return fmt
    return None


def shape_output(fmt, event: dict, raw: bytes | bytearray, output_kind: str) -> dict:
    """The proxy response for the binary's stdout: its own proxy response (checked), or a 200 around
    the output typed by what it is: JSON, UTF-8 text, or bytes (base64)."""
    body = bytes(raw)
    if output_kind == "json" and body.strip():
        try:
            value = codec.loads(body)
        except codec.DecodeError:
            pass
        else:
            if isinstance(value, dict) and "statusCode" in value:
                return fmt.finish(event, check_proxy_response(value))
            return fmt.response(event, Response(200, [("Content-Type", "application/json")], body))
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return fmt.response(event, Response(200, [("Content-Type", "application/octet-stream")], body))
    return fmt.response(event, Response(200, [("Content-Type", "text/plain; charset=utf-8")], body))


def shape_value(fmt, event: dict, value: object) -> dict:
    """The proxy response for a result a protocol already decoded (an envelope, a runtime's answer)."""
    if isinstance(value, dict) and "statusCode" in value:
        return fmt.finish(event, check_proxy_response(value))
    if isinstance(value, str):
        return fmt.response(event, Response(200, [("Content-Type", "text/plain; charset=utf-8")], value.encode()))
    return fmt.response(event, Response(200, [("Content-Type", "application/json")], codec.dumps(value)))


def error_response(exc: BaseException) -> Response:
    """``BRIDGE_HTTP_ERRORS=response``: a failed call as a 502 (504 for a timeout) with a JSON body."""
    status = 504 if isinstance(exc, BinaryTimeout) else 502
    body = codec.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)})
    return Response(status, [("Content-Type", "application/json")], body)
