"""The function log: the binary's stderr (and a custom runtime's stdout) line by line, and the bridge's
own warnings.

Lambda sends whatever the python process writes to its stderr to CloudWatch, one log event per line.
Lines are written straight to file descriptor 2 (no ``logging`` import: it costs cold-start time and
the runtime may reconfigure it), one ``write`` per chunk so a chatty binary costs few system calls.
"""

from __future__ import annotations

import os

TAIL_BYTES = 4096
# A longer line is logged in pieces of this size, each marked as cut (CloudWatch's own limit on one event).
LINE_MAX = 256 * 1024
# The longest last line still parsed for the binary's JSON error (errorType, errorMessage).
ERROR_LINE_MAX = 1 << 20
CUT_MARK = b" [exec-bridge: line cut at %d bytes, continued on the next line]" % LINE_MAX
_LOG_FD = 2


def _write(data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(_LOG_FD, view) :]


def warn(message: str) -> None:
    """A warning from the bridge itself, on one line of the function log."""
    _write(b"[exec-bridge] WARNING " + message.replace("\n", " ").encode("utf-8", "replace") + b"\n")


class StreamLog:
    """Forwards one output stream of the binary to the function log, line by line, as it arrives.

    Each line is prefixed with the current request id. The last few KB and the last non-empty line
    are kept for error messages (a crash report carries the stderr tail; a JSON error line types it).
    Time is linear and memory bounded whatever the shape of the output: a line longer than ``LINE_MAX``
    (a progress bar drawn with ``\\r``, a dump with no newline) is logged in marked pieces.
    """

    __slots__ = ("stream", "_prefix", "_partial", "_head", "_cut", "_tail", "_last_line", "bytes_seen")

    def __init__(self, stream: str, request_id: str = "") -> None:
        self.stream = stream
        self._prefix = b""
        self._partial = bytearray()  # the current line's bytes not logged yet
        self._head: bytearray | None = None  # a cut line from its start, while it may be an error line
        self._cut = False
        self._tail = bytearray()
        self._last_line: bytes | bytearray = b""
        self.bytes_seen = 0
        self.start(request_id)

    def start(self, request_id: str) -> None:
        """Begin a new invocation: new prefix, fresh tail."""
        label = f"{request_id} {self.stream}".strip()
        self._prefix = f"[{label}] ".encode() if label else b""
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
            _write(b"".join(out))

    def flush(self) -> None:
        """Write a pending partial line (at the end of a call, so nothing is lost); a cut line's last
        piece, even empty, so that its cut mark is always followed by its continuation."""
        if self._partial or self._cut:
            out: list[bytes | bytearray] = []
            self._end_line(out)
            _write(b"".join(out))

    def _whole_lines(self, lines: list[bytes], out: list[bytes | bytearray]) -> None:
        if not lines:
            return
        prefix = self._prefix
        out.append(prefix + (b"\n" + prefix).join(lines) + b"\n")
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
            out.append(self._prefix + partial[:LINE_MAX] + CUT_MARK + b"\n")
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
        out.append(self._prefix + line + b"\n")
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
