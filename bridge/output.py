"""Collecting the binary's reply from its stdout, bounded, and turning it into the handler's result.

The sinks read straight into one growing buffer (no per-read allocation of a large chunk) and never
hold more than the cap plus one read: a binary with endless output is stopped at the cap, not after
it has filled the memory.
"""

from __future__ import annotations

import os

from . import codec
from .errors import InvalidOutput, OutputTooLarge

READ_CHUNK = 1 << 16
_ZEROS = memoryview(bytes(1 << 20))


class Collected:
    """All of stdout up to end of file, at most ``cap`` bytes (``OutputTooLarge`` past that)."""

    __slots__ = ("buffer", "cap", "chunk")

    def __init__(self, cap: int, chunk: int = READ_CHUNK) -> None:
        self.buffer = bytearray()
        self.cap = cap
        self.chunk = chunk

    def read_from(self, fd: int) -> bool:
        buffer = self.buffer
        used = len(buffer)
        want = min(self.chunk, self.cap + 1 - used)
        buffer += _ZEROS[:want]
        with memoryview(buffer) as view:
            n = os.readv(fd, (view[used:],))
        del buffer[used + n :]
        if used + n > self.cap:
            raise OutputTooLarge(
                f"the binary's output passed BRIDGE_MAX_OUTPUT_BYTES={self.cap}; it was stopped there"
            )
        return n > 0


class Line(Collected):
    """stdout up to and including the next newline: one message of a line-framed protocol."""

    __slots__ = ("end",)

    def __init__(self, cap: int, chunk: int = READ_CHUNK) -> None:
        super().__init__(cap, chunk)
        self.end = -1

    def read_from(self, fd: int) -> bool:
        start = len(self.buffer)
        more = super().read_from(fd)
        if self.end < 0:
            self.end = self.buffer.find(b"\n", start)
        return more

    @property
    def complete(self) -> bool:
        return self.end >= 0

    def take(self) -> bytes:
        """The line (without its newline); what followed it stays buffered."""
        line = bytes(self.buffer[: self.end])
        del self.buffer[: self.end + 1]
        self.end = self.buffer.find(b"\n")
        return line


def decode(raw: bytes | bytearray, kind: str) -> object:
    """The handler's result for stdout ``raw``: a JSON value (``json``) or a string (``text``)."""
    if kind == "text":
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidOutput(f"BRIDGE_OUTPUT=text but the output is not UTF-8: {exc}") from None
    if not raw.strip():
        return None
    try:
        return codec.loads(raw)
    except codec.DecodeError as exc:
        preview = bytes(raw[:200]).decode("utf-8", "replace")
        raise InvalidOutput(
            f"the binary's output is not JSON ({exc}); it starts with {preview!r}. "
            f"Set BRIDGE_OUTPUT=text to return it as a string"
        ) from None
