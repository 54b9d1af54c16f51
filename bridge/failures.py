"""Turning a failed run into the right typed error.

A binary picks its own Lambda errorType by writing, as its last non-empty stderr line, a JSON object
with ``errorType`` and ``errorMessage``. Otherwise the error names the exit status or the signal and
carries the tail of stderr, so a crash report is never empty.
"""

from __future__ import annotations

import signal

from . import codec
from .errors import BinaryExitError, BinarySignalError, BinaryTimeout, binary_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .logs import OutputLog

_SIGNAL_HINTS = {
    signal.SIGKILL: "killed: out of memory, or by another process",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "arithmetic error",
    signal.SIGILL: "illegal instruction: built for another CPU?",
}


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def typed_error(payload: object) -> Exception | None:
    """The binary's own error, if ``payload`` is ``{"errorType": str, "errorMessage": str, ...}``."""
    if isinstance(payload, dict):
        error_type, message = payload.get("errorType"), payload.get("errorMessage")
        if isinstance(error_type, str) and error_type and isinstance(message, str):
            return binary_error(error_type, message)
    return None


def _error_line(log: OutputLog) -> Exception | None:
    line = log.last_line
    if not line.startswith(b"{"):
        return None
    try:
        return typed_error(codec.loads(line))
    except codec.DecodeError:
        return None


def _with_tail(message: str, log: OutputLog) -> str:
    tail = log.tail()
    return f"{message}; stderr (last {len(tail)} characters):\n{tail}" if tail else f"{message}; stderr was empty"


def exit_error(returncode: int, log: OutputLog) -> Exception:
    """The error for a binary that ended with ``returncode`` (negative: killed by that signal)."""
    if returncode < 0:
        number = -returncode
        name = signal_name(number)
        hint = _SIGNAL_HINTS.get(number)
        return BinarySignalError(_with_tail(f"the binary was killed by {name}" + (f" ({hint})" if hint else ""), log))
    return _error_line(log) or BinaryExitError(_with_tail(f"the binary exited with status {returncode}", log))


def timeout_error(elapsed_ms: int, margin_ms: int, log: OutputLog) -> BinaryTimeout:
    return BinaryTimeout(
        _with_tail(
            f"the binary ran for {elapsed_ms} ms and was killed {margin_ms} ms before the invocation's "
            f"deadline (BRIDGE_TIMEOUT_MARGIN_MS)",
            log,
        )
    )
