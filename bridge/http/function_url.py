"""Lambda Function URLs: payload format 2.0, told apart by the ``lambda-url`` domain."""

from __future__ import annotations

from .api_gateway_v2 import finish, request, response

__all__ = ["finish", "matches", "request", "response"]


def matches(event: dict) -> bool:
    """Its own: payload 2.0 on a ``.lambda-url.`` domain."""
    context = event.get("requestContext") or {}
    return event.get("version") == "2.0" and ".lambda-url." in (context.get("domainName") or "")
