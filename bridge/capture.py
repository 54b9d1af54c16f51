"""Capturing the binary's reply from its stdout: bounded, into storage reused from call to call.

Replies are read straight into a ``Storage`` that lives as long as the mode: its pages stay mapped
from call to call, so a 6 MB reply costs no fresh allocation, no page faults and no copy (it is parsed
in place). A sink never holds more than the cap plus one read: a binary with endless output is stopped
at the cap, not after it has filled the memory.
"""

from __future__ import annotations

import os

from .errors import OutputTooLarge

READ_CHUNK = 1 << 16


class Storage:
    """A growable byte store reused across calls; ``used`` bytes of it hold the current output."""

    __slots__ = ("data", "used")

    def __init__(self, size: int = READ_CHUNK) -> None:
        self.data = bytearray(size)
        self.used = 0

    def room(self, want: int) -> memoryview:
        """A writable view of ``want`` free bytes after the used part, growing the store if needed.

        Growing copies into a new, larger store instead of resizing in place, so a view of the
        previous reply that a caller still holds stays valid.
        """
        used = self.used
        if len(self.data) - used < want:
            bigger = bytearray(max(2 * len(self.data), used + want))
            bigger[:used] = memoryview(self.data)[:used]
            self.data = bigger
        return memoryview(self.data)[used : used + want]

    def view(self, end: int | None = None) -> memoryview:
        return memoryview(self.data)[: self.used if end is None else end]


def too_large(cap: int) -> OutputTooLarge:
    return OutputTooLarge(f"the binary's reply passed BRIDGE_MAX_OUTPUT_BYTES={cap}; it was stopped there")


class Collected:
    """All of stdout up to end of file: a reply of at most ``cap`` bytes, plus ``framing`` bytes that
    are not the reply's (a CGI header section); ``OutputTooLarge`` past that."""

    __slots__ = ("storage", "cap", "limit", "chunk")

    def __init__(self, cap: int, storage: Storage, chunk: int = READ_CHUNK, framing: int = 0) -> None:
        storage.used = 0
        self.storage = storage
        self.cap = cap
        self.limit = cap + framing
        self.chunk = chunk

    def read_from(self, fd: int) -> bool:
        storage = self.storage
        # Room for one byte past the limit: reading it shows the limit was passed.
        n = os.readv(fd, (storage.room(min(self.chunk, self.limit + 1 - storage.used)),))
        storage.used += n
        if storage.used > self.limit:
            raise too_large(self.cap)
        return n > 0

    def output(self) -> memoryview:
        """What was read: a view into the storage, valid until the next call reads into it."""
        return self.storage.view()


class Line(Collected):
    """stdout up to and including the next newline: one message of a line-framed protocol. The line
    may hold ``cap`` bytes plus ``framing`` bytes that are not the reply's (an envelope's keys)."""

    __slots__ = ("end",)

    def __init__(self, cap: int, storage: Storage, chunk: int = READ_CHUNK, framing: int = 0) -> None:
        super().__init__(cap, storage, chunk, framing + 1)  # and its newline
        self.end = -1

    def read_from(self, fd: int) -> bool:
        storage = self.storage
        room = self.limit - storage.used
        if room <= 0:
            raise too_large(self.cap)
        start = storage.used
        n = os.readv(fd, (storage.room(min(self.chunk, room)),))
        storage.used += n
        if self.end < 0:
            self.end = storage.data.find(b"\n", start, storage.used)
            if self.end < 0 and storage.used >= self.limit:
                raise too_large(self.cap)
        return n > 0

    def complete(self) -> bool:
        return self.end >= 0

    def pending(self) -> int:
        """Bytes held beyond the current line (stray output when a call starts)."""
        return self.storage.used - (self.end + 1 if self.end >= 0 else 0)

    def take(self) -> memoryview:
        """The line (without its newline), as a view valid until ``next_line``."""
        return self.storage.view(self.end)

    def next_line(self) -> None:
        """Drop the line taken; what followed it moves to the front."""
        storage, rest = self.storage, self.end + 1
        if rest > 0:
            tail = storage.used - rest
            if tail:
                storage.data[:tail] = storage.data[rest : storage.used]
            storage.used = tail
        self.end = storage.data.find(b"\n", 0, storage.used)

    def clear(self) -> None:
        self.storage.used = 0
        self.end = -1
