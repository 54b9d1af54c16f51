"""API Gateway HTTP API (payload format 2.0)."""

from __future__ import annotations

from .common import Request, Response, body_bytes, encode_body


def matches(event: dict) -> bool:
    """Its own: ``version`` "2.0" and a ``requestContext.http`` (a Function URL's is taken first)."""
    return event.get("version") == "2.0" and "http" in (event.get("requestContext") or {})


def request(event: dict) -> Request:
    context = event["requestContext"]
    http = context["http"]
    headers = list((event.get("headers") or {}).items())
    if event.get("cookies"):  # payload 2.0 moves the Cookie header into a list
        headers.append(("cookie", "; ".join(event["cookies"])))
    return Request(
        method=http.get("method") or "GET",
        path=event.get("rawPath") or http.get("path") or "/",
        query=event.get("rawQueryString") or "",
        headers=headers,
        body=body_bytes(event),
        source_ip=http.get("sourceIp") or "",
        protocol=http.get("protocol") or "HTTP/1.1",
        host=context.get("domainName") or "",
    )


def response(event: dict, reply: Response) -> dict:
    """Set-Cookie headers go in ``cookies``; other repeated headers are comma-joined, as 2.0 requires."""
    headers: dict[str, str] = {}
    cookies = []
    for name, value in reply.headers:
        if name.lower() == "set-cookie":
            cookies.append(value)
        else:
            headers[name] = f"{headers[name]},{value}" if name in headers else value
    body, is_base64 = encode_body(reply.body)
    shaped = {"statusCode": reply.status, "headers": headers, "body": body, "isBase64Encoded": is_base64}
    if cookies:
        shaped["cookies"] = cookies
    return shaped


def finish(event: dict, proxy: dict) -> dict:
    """A binary's own (checked) proxy response needs nothing more for this format."""
    return proxy
