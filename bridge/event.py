"""An invocation's event, and what the binary gets of it.

The bridge recognises an HTTP event once (its ``front``: an ``http.FrontDoor``, or None) and every mode
takes what it needs from here: the event as JSON, the request body, or the whole request (CGI).
"""

from __future__ import annotations

from . import codec
from .config import Stdin
from .errors import InvalidEvent, UnsupportedEvent

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .http import FrontDoor
    from .http.common import Request


class Event:
    __slots__ = ("value", "front", "body")

    def __init__(self, value: object, front: FrontDoor | None = None, body: bytes | None = None) -> None:
        self.value = value
        self.front = front  # the HTTP front door it came through, when HTTP handling is on
        self.body = body  # a batch record's own body (an SQS message's, Kinesis data), if it has one

    def request(self) -> Request:
        """The HTTP request the event carries; ``UnsupportedEvent`` when it is not an HTTP event."""
        if self.front is None:
            raise UnsupportedEvent("CGI mode serves HTTP events (API Gateway, ALB, Function URLs); "
                                   "this event is none of them")
        return self.front.request()

    def stdin(self, source: Stdin) -> bytes:
        """What the binary reads: with ``BRIDGE_STDIN=body`` the body of a batch record or of an HTTP
        request; the event as JSON otherwise."""
        if source is Stdin.BODY:
            if self.body is not None:
                return self.body
            if self.front is not None:
                return self.request().body
        try:
            return codec.dumps(self.value)
        except codec.EncodeError as exc:
            raise InvalidEvent(f"the event cannot reach the binary as exact JSON: {exc}") from None
