"""What a mode got back from the binary, and how it becomes the handler's result (``types.Reply``).

Three kinds: raw stdout (oneshot, lines framing), a value the protocol already decoded (an envelope's
``result``, a runtime's answer), and an HTTP response (a CGI program's). Each knows how to become a
plain result or an HTTP integration's response, so the bridge never asks which kind it holds.
"""

from __future__ import annotations

from . import codec
from .config import Output
from .errors import InvalidOutput

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .http import FrontDoor
    from .http.common import Response


def decode(raw: bytes | bytearray | memoryview, output: Output) -> object:
    """The handler's result for stdout ``raw``: a JSON value (``json``) or a string (``text``)."""
    if output is Output.TEXT:
        try:
            return str(raw, "utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidOutput(f"BRIDGE_OUTPUT=text but the output is not UTF-8: {exc}") from None
    if not len(raw):
        return None
    try:
        return codec.loads(raw)
    except codec.Unrepresentable as exc:
        raise InvalidOutput(f"the binary's output cannot be returned exactly: {exc}") from None
    except codec.DecodeError as exc:
        if not bytes(raw).strip():
            return None
        preview = bytes(raw[:200]).decode("utf-8", "replace")
        raise InvalidOutput(
            f"the binary's output is not JSON ({exc}); it starts with {preview!r}. "
            f"Set BRIDGE_OUTPUT=text to return it as a string"
        ) from None


class Stdout:
    """Raw stdout, a view into the mode's storage: decoded at once, before the next call reuses it."""

    __slots__ = ("raw",)

    def __init__(self, raw: memoryview) -> None:
        self.raw = raw

    def result(self, output: Output, front: FrontDoor | None) -> object:
        if front is None:
            return decode(self.raw, output)
        return front.output(self.raw, output is Output.JSON)


class Value:
    """A result the protocol already decoded; ``BRIDGE_OUTPUT`` does not apply."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def result(self, output: Output, front: FrontDoor | None) -> object:
        return self.value if front is None else front.value(self.value)


class HttpAnswer:
    """An HTTP response (a CGI program's): only an HTTP event can have one."""

    __slots__ = ("response",)

    def __init__(self, response: Response) -> None:
        self.response = response

    def result(self, output: Output, front: FrontDoor | None) -> object:
        assert front is not None, "an HTTP answer is only made for an HTTP event"
        return front.response(self.response)
