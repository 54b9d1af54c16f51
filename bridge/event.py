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
    __slots__ = ("value", "front")

    def __init__(self, value: object, front: FrontDoor | None = None) -> None:
        self.value = value
        self.front = front  # the HTTP front door it came through, when HTTP handling is on

    def request(self) -> Request:
        """The HTTP request the event carries; ``UnsupportedEvent`` when it is not an HTTP event."""
        if self.front is None:
            raise UnsupportedEvent("CGI mode serves HTTP events (API Gateway, ALB, Function URLs); "
                                   "this event is none of them")
        return self.front.request()

    def stdin(self, source: Stdin) -> bytes:
        """What the binary reads: the request body (``BRIDGE_STDIN=body``, HTTP events), else the event."""
        if source is Stdin.BODY and self.front is not None:
            return self.request().body
        try:
            return codec.dumps(self.value)
        except codec.EncodeError as exc:
            raise InvalidEvent(f"the event cannot reach the binary as exact JSON: {exc}") from None
