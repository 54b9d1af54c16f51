"""The seams of the bridge, declared: what a mode, a reply, a sink and an HTTP event format must offer.

Only type checkers import this module (``./build.sh test`` runs mypy on ``bridge/``); at run time the
seams are plain duck typing, so nothing here costs cold-start time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    import select

    from .binary import Program
    from .config import Config, Output
    from .event import Event
    from .http import FrontDoor
    from .http.common import Request, Response
    from .invocation import Invocation


class LambdaContext(Protocol):
    """What the bridge reads of the runtime's context object (``context.LocalContext`` outside Lambda)."""

    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int: ...


class Sink(Protocol):
    """Where the pipe core drains one of the binary's output pipes."""

    def read_from(self, fd: int) -> bool:
        """Read what is ready on ``fd``; False at end of file. May raise to stop the call."""
        ...


class Peer(Protocol):
    """A server the binary talks to, whose sockets the pump watches beside the binary's pipes (the Runtime
    API server): no thread of its own."""

    def watch(self, poller: select.poll) -> None:
        """Register its sockets."""
        ...

    def unwatch(self, poller: select.poll) -> None:
        """Unregister them."""
        ...

    def handle(self, fd: int, events: int) -> None:
        """An event on one of its sockets."""
        ...


class Freezer(Protocol):
    """What holds the runtime between invocations, as Lambda freezes an environment (the emulator's sandbox)."""

    def freeze(self) -> None:
        """Stop every process of the function until ``thaw``."""
        ...

    def thaw(self) -> None: ...


class Reply(Protocol):
    """What a mode got back from the binary, before it is the handler's result."""

    def result(self, output: Output, front: FrontDoor | None) -> object:
        """The handler's return value: decoded per ``BRIDGE_OUTPUT``, or shaped for an HTTP integration."""
        ...


class Mode(Protocol):
    """A way of running the binary (``bridge.modes``): one event in, one reply out."""

    http_only: ClassVar[bool]  # serves HTTP events only (and shapes its replies whatever BRIDGE_HTTP says)
    independent_calls: ClassVar[bool]  # each call a process of its own: instances may run calls at once

    def __init__(self, program: Program, config: Config) -> None: ...

    def call(self, event: Event, invocation: Invocation) -> Reply:
        """Run the binary on one event; raises a typed error when it fails."""
        ...

    def start(self) -> None:
        """Start now what outlives calls, replacing what runs (Lambda's init phase; after a SnapStart
        restore); a typed error when it cannot start."""
        ...

    def close(self) -> None:
        """Stop whatever outlives a call (a long-lived binary); the mode is not used again."""
        ...


class EventFormat(Protocol):
    """An HTTP front door's event format (``bridge.http``): one module each."""

    def matches(self, event: dict) -> bool:
        """Is ``event`` of this format?"""
        ...

    def request(self, event: dict) -> Request:
        """The HTTP request the event carries."""
        ...

    def response(self, event: dict, reply: Response) -> dict:
        """A response shaped as this integration accepts it."""
        ...

    def finish(self, event: dict, proxy: dict) -> dict:
        """A binary's own, already checked, proxy response, completed for this integration."""
        ...
