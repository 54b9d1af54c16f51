"""The function log: the binary's stderr (and a custom runtime's stdout) line by line, and the bridge's
own warnings.

Lambda sends whatever the python process writes to its stderr to CloudWatch, one log event per line.
Lines are written straight to file descriptor 2 (no ``logging`` import: it costs cold-start time and
the runtime may reconfigure it), one ``write`` per chunk so a chatty binary costs few system calls.
"""

from __future__ import annotations

import os

TAIL_BYTES = 4096
_MAX_LAST_LINE = 65536
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
    """

    __slots__ = ("stream", "_prefix", "_partial", "_tail", "_last_line", "bytes_seen")

    def __init__(self, stream: str, request_id: str = "") -> None:
        self.stream = stream
        self._prefix = b""
        self._partial = b""
        self._tail = bytearray()
        self._last_line = b""
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
        tail += data
        if len(tail) > TAIL_BYTES:
            del tail[: len(tail) - TAIL_BYTES]
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        if lines:
            self._emit(lines)

    def flush(self) -> None:
        """Write a pending partial line (at the end of a call, so nothing is lost)."""
        if self._partial:
            partial, self._partial = self._partial, b""
            self._emit([partial])

    def _emit(self, lines: list[bytes]) -> None:
        prefix = self._prefix
        for line in reversed(lines):
            if line.strip():
                self._last_line = line[-_MAX_LAST_LINE:]
                break
        _write(b"".join(prefix + line + b"\n" for line in lines))

    @property
    def last_line(self) -> bytes:
        """The last non-empty complete line (or flushed partial line) of this call."""
        return self._last_line.strip()

    def tail(self) -> str:
        """The last few KB of this call's output, for an error message."""
        return bytes(self._tail).decode("utf-8", "replace").strip()
