"""API Gateway REST API, Lambda proxy integration (payload 1.0)."""

from __future__ import annotations

from .common import Request, Response, body_bytes, encode_body, group_headers


def matches(event: dict) -> bool:
    """Its own: ``httpMethod`` and a ``requestContext`` that is not a load balancer's."""
    context = event.get("requestContext")
    return "httpMethod" in event and isinstance(context, dict) and "elb" not in context


def request(event: dict) -> Request:
    from urllib.parse import urlencode  # here, not at import: it costs cold-start time

    multi = event.get("multiValueHeaders") or {}
    headers = [(k, v) for k, vs in multi.items() for v in vs or ()] or list((event.get("headers") or {}).items())
    query = event.get("multiValueQueryStringParameters") or {
        k: [v] for k, v in (event.get("queryStringParameters") or {}).items()
    }
    context = event["requestContext"]
    return Request(
        method=event["httpMethod"],
        path=event.get("path") or "/",
        query=urlencode([(k, v) for k, vs in query.items() for v in vs]),
        headers=headers,
        body=body_bytes(event),
        source_ip=(context.get("identity") or {}).get("sourceIp") or "",
        protocol=context.get("protocol") or "HTTP/1.1",
        host=context.get("domainName") or "",
    )


def response(event: dict, reply: Response) -> dict:
    """Single-valued headers in ``headers``; every header, repeated ones too, in ``multiValueHeaders``."""
    body, is_base64 = encode_body(reply.body)
    grouped = group_headers(reply.headers)
    return {
        "statusCode": reply.status,
        "headers": {name: values[-1] for name, values in grouped.items() if len(values) == 1},
        "multiValueHeaders": grouped,
        "body": body,
        "isBase64Encoded": is_base64,
    }


def finish(event: dict, proxy: dict) -> dict:
    """A binary's own (checked) proxy response needs nothing more for this format."""
    return proxy
