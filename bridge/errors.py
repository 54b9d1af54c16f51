"""The bridge's typed errors, and how a failed run picks one.

The python3 runtime reports ``type(exc).__name__`` as the Lambda ``errorType``, and Step Functions
Retry/Catch match on it, so every failure has a stable class name. These names are part of the public
contract (docs/protocol.md lists them); renaming one is a breaking change.

A binary picks its own errorType by writing, as its last non-empty stderr line (or in an envelope's
``error``, or in a Runtime API error post), a JSON object with ``errorType`` and ``errorMessage``.
Otherwise the error names the exit status or the signal and carries the tail of stderr, so a crash
report is never empty.
"""

from __future__ import annotations

import _signal  # signal's constants, without signal.py's enum classes (a cold start's cost)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .logs import StreamLog


class BridgeError(Exception):
    """Base of every error the bridge raises on its own account."""


class BridgeConfigError(BridgeError):
    """A ``BRIDGE_*`` variable has a value the bridge cannot use."""


class BinaryNotFound(BridgeError):
    """The configured binary does not exist, or ``bin/`` does not name exactly one."""


class BinaryNotExecutable(BridgeError):
    """The binary exists but cannot be executed, not even from a copy in /tmp."""


class BinaryFormatError(BridgeError):
    """The file is not an executable for this machine (not ELF, wrong architecture, missing loader)."""


class BinaryExitError(BridgeError):
    """The binary exited with a non-zero status and no typed error of its own."""


class BinarySignalError(BridgeError):
    """The binary was killed by a signal (a crash, or the kernel's out-of-memory killer)."""


class BinaryTimeout(BridgeError):
    """The binary was still running when the invocation's deadline minus the margin ran out."""


class OutputTooLarge(BridgeError):
    """The binary's reply grew past ``BRIDGE_MAX_OUTPUT_BYTES``; it was killed at that point."""


class InvalidOutput(BridgeError):
    """The binary's reply is not what the configured output format requires."""


class BinaryStderrError(BridgeError):
    """Legacy mode (``BRIDGE_STDERR_IS_ERROR``): the binary exited 0 but wrote to stderr."""


class BinaryProtocolError(BridgeError):
    """A long-lived binary broke its framing (wrong id, stray output, a reply that is not JSON)."""


class InvalidEvent(BridgeError):
    """The event has no exact JSON text for the binary's stdin (NaN, Infinity, nesting too deep)."""


class BatchFailed(BridgeError):
    """``BRIDGE_BATCH=records``: every record of the batch failed (each is logged with its own error)."""


class InvalidRequest(BridgeError):
    """An HTTP event whose request cannot be read (a body flagged base64 that is not); a 400 with
    ``BRIDGE_HTTP_ERRORS=response``."""


class UnsupportedEvent(BridgeError):
    """The mode cannot serve this kind of event (CGI mode and a non-HTTP event)."""


class BinaryError(Exception):
    """Base of errors whose type the binary chose itself (its JSON error line or error reply).

    ``document`` is the whole error object the binary reported (stackTrace and all), for the emulator;
    ``during_init`` marks a runtime's init error.
    """

    document: dict | None = None
    during_init = False


_MAX_CACHED_TYPES = 256
_binary_error_types: dict[str, type[BinaryError]] = {}


def class_name(error_type: str) -> str:
    """``error_type`` as a Python class name: verbatim, except what ``type()`` refuses. NUL characters
    are dropped and lone surrogates (which UTF-8 cannot carry) become U+FFFD; empty is ``BinaryError``."""
    name = error_type.replace("\0", "")
    if not name.isascii():
        name = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in name)
    return name or "BinaryError"


def _binary_error_class(error_type: str) -> type[BinaryError]:
    """A class whose name is ``error_type`` (see ``class_name``), so Lambda reports that errorType."""
    cls = _binary_error_types.get(error_type)
    if cls is None:
        cls = type(class_name(error_type), (BinaryError,), {"__module__": __name__})
        if len(_binary_error_types) < _MAX_CACHED_TYPES:
            _binary_error_types[error_type] = cls
    return cls


def binary_error(document: object, fallback_type: str = "") -> BinaryError | None:
    """The error a binary reported as ``{"errorType": str, "errorMessage": str, ...}``, else None.

    With a ``fallback_type`` (a Runtime API error post, which Lambda accepts in any shape) any
    document is an error: a missing errorType is the fallback, a message that is not a string is
    shown as JSON. Without one (a stderr line, an envelope) both fields must be strings.
    """
    from . import codec  # here: a handoff's init never needs it

    if not isinstance(document, dict):
        if not fallback_type:
            return None
        document = {"errorMessage": document if isinstance(document, str) else codec.dumps(document).decode()}
    error_type, message = document.get("errorType"), document.get("errorMessage")
    if not (isinstance(error_type, str) and error_type):
        if not fallback_type:
            return None
        error_type = fallback_type
    if not isinstance(message, str):
        if not fallback_type:
            return None
        message = codec.dumps(message).decode()
    return typed_error(error_type, message, document)


def typed_error(error_type: str, message: str, document: dict | None = None) -> BinaryError:
    """An error whose class name, and so whose Lambda errorType, is ``error_type``."""
    error = _binary_error_class(error_type)(message)
    error.document = document
    return error


_SIGNAL_HINTS: dict[int, str] = {
    _signal.SIGKILL: "killed: out of memory, or by another process",
    _signal.SIGSEGV: "segmentation fault",
    _signal.SIGABRT: "aborted",
    _signal.SIGBUS: "bus error",
    _signal.SIGFPE: "arithmetic error",
    _signal.SIGILL: "illegal instruction: built for another CPU?",
}


def signal_name(number: int) -> str:
    import signal  # only for an error: its enum classes cost a cold start ~0.7 ms

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _error_line(log: StreamLog) -> BinaryError | None:
    line = log.last_line
    if not line.startswith(b"{"):
        return None
    from . import codec

    try:
        return binary_error(codec.loads(line))
    except codec.DecodeError:
        return None


def _with_tail(message: str, tail: str) -> str:
    return f"{message}; stderr (last {len(tail)} characters):\n{tail}" if tail else f"{message}; stderr was empty"


def exit_error(returncode: int, log: StreamLog) -> Exception:
    """The error for a binary that ended with ``returncode`` (negative: killed by that signal)."""
    tail = log.tail()
    if returncode > 0 and "version `GLIBC_" in tail and "not found" in tail:  # the dynamic loader's words
        return BinaryFormatError(_with_tail(
            "the binary is dynamically linked against a newer glibc than this system's (Lambda's Amazon Linux "
            "2023 has 2.34): link it statically (README: Writing a function)", tail))
    if returncode < 0:
        number = -returncode
        hint = _SIGNAL_HINTS.get(number)
        text = f"the binary was killed by {signal_name(number)}" + (f" ({hint})" if hint else "")
        return BinarySignalError(_with_tail(text, tail))
    return _error_line(log) or BinaryExitError(_with_tail(f"the binary exited with status {returncode}", tail))


def timeout_error(elapsed_ms: int, margin_ms: int, log: StreamLog) -> BinaryTimeout:
    return BinaryTimeout(
        _with_tail(
            f"the binary ran for {elapsed_ms} ms and was killed {margin_ms} ms before the invocation's "
            f"deadline (BRIDGE_TIMEOUT_MARGIN_MS)",
            log.tail(),
        )
    )
