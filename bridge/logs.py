"""The function log: the binary's stderr (and a custom runtime's stdout) line by line, and the bridge's
own warnings, as records of the function's log format (``bridge.log_records``).
"""

from __future__ import annotations

import logging
import os

from . import log_records

TAIL_BYTES = 4096
# A longer line is logged in pieces of this size, each marked as cut (CloudWatch's own limit on one event).
LINE_MAX = 256 * 1024
# The longest last line still parsed for the binary's JSON error (errorType, errorMessage).
ERROR_LINE_MAX = 1 << 20
CUT_MARK = b" [exec-bridge: line cut at %d bytes, continued on the next line]" % LINE_MAX
_bridge_logger = logging.getLogger("exec-bridge")


def warn(message: str) -> None:
    """A warning from the bridge itself: a WARNING record with the request id of the call in progress
    (none during init). Under the runtime it goes through ``logging``, so the runtime formats it."""
    writer = log_records.writer()
    if writer.runtime:
        _bridge_logger.warning(message)
    else:
        writer.message(log_records.WARNING, message, log_records.request_id, "exec-bridge")


class StreamLog:
    """Forwards one output stream of the binary to the function log, line by line, as it arrives.

    Each line is a record with the current request id. The last few KB and the last non-empty line
    are kept for error messages (a crash report carries the stderr tail; a JSON error line types it).
    Time is linear and memory bounded whatever the shape of the output: a line longer than ``LINE_MAX``
    (a progress bar drawn with ``\\r``, a dump with no newline) is logged in marked pieces.
    """

    __slots__ = ("logger", "request_id", "_partial", "_head", "_cut", "_tail", "_last_line", "bytes_seen")

    def __init__(self, stream: str, request_id: str = "") -> None:
        self.logger = f"binary.{stream}"  # the JSON format's "logger" field
        self.request_id = request_id
        self._partial = bytearray()  # the current line's bytes not logged yet
        self._head: bytearray | None = None  # a cut line from its start, while it may be an error line
        self._cut = False
        self._tail = bytearray()
        self._last_line: bytes | bytearray = b""
        self.bytes_seen = 0
        self.start(request_id)

    def start(self, request_id: str) -> None:
        """Begin a new invocation: its request id, a fresh tail."""
        self.request_id = request_id
        self._tail.clear()
        self._last_line = b""
        self.bytes_seen = 0

    def read_from(self, fd: int) -> bool:
        """Read what is ready on ``fd``; False at end of file."""
        data = os.read(fd, 65536)
        if data:
            self.feed(data)
            return True
        return False

    def feed(self, data: bytes) -> None:
        self.bytes_seen += len(data)
        tail = self._tail
        tail += data[-TAIL_BYTES:]
        if len(tail) > TAIL_BYTES:
            del tail[: len(tail) - TAIL_BYTES]
        out: list[bytes | bytearray] = []
        *complete, rest = data.split(b"\n")
        if complete:
            if self._partial or self._cut:  # the first piece ends a line a previous chunk began
                self._add(complete.pop(0), out)
                self._end_line(out)
            if len(data) <= LINE_MAX:  # no line within can need cutting: log them all in one join
                self._whole_lines(complete, out)
            else:
                for piece in complete:
                    self._add(piece, out)
                    self._end_line(out)
        if rest:
            self._add(rest, out)
        if out:
            self._write(out)

    def flush(self) -> None:
        """Write a pending partial line (at the end of a call, so nothing is lost); a cut line's last
        piece, even empty, so that its cut mark is always followed by its continuation."""
        if self._partial or self._cut:
            out: list[bytes | bytearray] = []
            self._end_line(out)
            self._write(out)

    def _write(self, lines: list[bytes | bytearray]) -> None:
        log_records.writer().lines(lines, self.request_id, self.logger)

    def _whole_lines(self, lines: list[bytes], out: list[bytes | bytearray]) -> None:
        out.extend(lines)
        for line in reversed(lines):
            if line.strip():
                self._last_line = line
                break

    def _add(self, piece: bytes, out: list[bytes | bytearray]) -> None:
        partial = self._partial
        partial += piece
        if self._cut:
            self._keep_head(piece)
        while len(partial) > LINE_MAX:
            if not self._cut:
                self._cut = True
                self._head = bytearray(partial) if len(partial) <= ERROR_LINE_MAX else None
            out.append(partial[:LINE_MAX] + CUT_MARK)
            del partial[:LINE_MAX]

    def _keep_head(self, piece: bytes) -> None:
        head = self._head
        if head is not None:
            if len(head) + len(piece) > ERROR_LINE_MAX:
                self._head = None  # too long to be parsed as an error line
            else:
                head += piece

    def _end_line(self, out: list[bytes | bytearray]) -> None:
        line = self._partial
        out.append(line)
        whole = (self._head if self._head is not None else b"?") if self._cut else line
        if whole.strip():
            self._last_line = whole
        self._partial = bytearray()
        self._head = None
        self._cut = False

    @property
    def last_line(self) -> bytes:
        """The last non-empty complete line (or flushed partial line) of this call, when it is at most
        ``ERROR_LINE_MAX`` bytes long (a longer one reads as ``?``)."""
        return bytes(self._last_line).strip()

    def tail(self) -> str:
        """The last few KB of this call's output, for an error message."""
        return bytes(self._tail).decode("utf-8", "replace").strip()
