"""Collecting the binary's reply from its stdout, bounded, and turning it into the handler's result.

Reads land in a reusable scratch buffer (no per-read allocation or zeroing of a large chunk) and only
the bytes read are kept. A sink never holds more than the cap plus one read: a binary with endless
output is stopped at the cap, not after it has filled the memory.
"""

from __future__ import annotations

import os

from . import codec
from .errors import InvalidOutput, OutputTooLarge

READ_CHUNK = 1 << 16


class Scratch:
    """A reusable read buffer: each read lands here, then only the bytes read are appended."""

    __slots__ = ("view",)

    def __init__(self, size: int = READ_CHUNK) -> None:
        self.view = memoryview(bytearray(size))


class Collected:
    """All of stdout up to end of file, at most ``cap`` bytes (``OutputTooLarge`` past that)."""

    __slots__ = ("buffer", "cap", "scratch")

    def __init__(self, cap: int, scratch: Scratch) -> None:
        self.buffer = bytearray()
        self.cap = cap
        self.scratch = scratch.view

    def read_from(self, fd: int) -> bool:
        scratch = self.scratch
        n = os.readv(fd, (scratch[: min(len(scratch), self.cap + 1 - len(self.buffer))],))
        self.buffer += scratch[:n]
        if len(self.buffer) > self.cap:
            raise OutputTooLarge(
                f"the binary's output passed BRIDGE_MAX_OUTPUT_BYTES={self.cap}; it was stopped there"
            )
        return n > 0


class Line(Collected):
    """stdout up to and including the next newline: one message of a line-framed protocol."""

    __slots__ = ("end",)

    def __init__(self, cap: int, scratch: Scratch) -> None:
        super().__init__(cap, scratch)
        self.end = -1

    def read_from(self, fd: int) -> bool:
        start = len(self.buffer)
        more = super().read_from(fd)
        if self.end < 0:
            self.end = self.buffer.find(b"\n", start)
        return more

    def complete(self) -> bool:
        return self.end >= 0

    def take(self) -> bytes:
        """The line (without its newline); what followed it stays buffered."""
        line = bytes(self.buffer[: self.end])
        del self.buffer[: self.end + 1]
        self.end = self.buffer.find(b"\n")
        return line


class Decoded:
    """A result the protocol already decoded (an envelope's ``result``), as opposed to raw stdout."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


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
