"""Application Load Balancer targets, with or without multi-value headers."""

from __future__ import annotations

from .common import Request, Response, body_bytes, encode_body, group_headers, reason


def matches(event: dict) -> bool:
    """Its own: a ``requestContext.elb``."""
    return "elb" in (event.get("requestContext") or {})


def request(event: dict) -> Request:
    multi = event.get("multiValueHeaders")
    if multi is not None:
        headers = [(k, v) for k, vs in multi.items() for v in vs or ()]
        query_pairs = [(k, v) for k, vs in (event.get("multiValueQueryStringParameters") or {}).items() for v in vs]
    else:
        headers = list((event.get("headers") or {}).items())
        query_pairs = list((event.get("queryStringParameters") or {}).items())
    # ALB passes query values as they were sent (still percent-encoded): join them, do not re-encode.
    query = "&".join(f"{k}={v}" for k, v in query_pairs) if query_pairs else ""
    return Request(
        method=event.get("httpMethod") or "GET",
        path=event.get("path") or "/",
        query=query,
        headers=headers,
        body=body_bytes(event),
        source_ip=next((v for k, v in headers if k.lower() == "x-forwarded-for"), "").split(",")[0].strip(),
    )


def response(event: dict, reply: Response) -> dict:
    """ALB wants ``statusDescription``, and ``multiValueHeaders`` exactly when the target group has
    multi-value headers on (the event then carries them); otherwise one value a header."""
    body, is_base64 = encode_body(reply.body)
    shaped = {
        "statusCode": reply.status,
        "statusDescription": f"{reply.status} {reason(reply.status)}".strip(),
        "body": body,
        "isBase64Encoded": is_base64,
    }
    grouped = group_headers(reply.headers)
    if "multiValueHeaders" in event:
        shaped["multiValueHeaders"] = grouped
    else:
        shaped["headers"] = {name: values[-1] for name, values in grouped.items()}
    return shaped


def finish(event: dict, proxy: dict) -> dict:
    """A binary's own response: ALB needs a statusDescription (supplied when missing), and reads only the
    header field its target group uses, so headers given in the other one are moved across rather than lost."""
    proxy.setdefault("statusDescription", f"{proxy['statusCode']} {reason(proxy['statusCode'])}".strip())
    if "multiValueHeaders" in event:
        if "multiValueHeaders" not in proxy and isinstance(proxy.get("headers"), dict):
            proxy["multiValueHeaders"] = {name: [value] for name, value in proxy.pop("headers").items()}
    elif "headers" not in proxy and isinstance(proxy.get("multiValueHeaders"), dict):
        proxy["headers"] = {name: values[-1] for name, values in proxy.pop("multiValueHeaders").items() if values}
    return proxy
