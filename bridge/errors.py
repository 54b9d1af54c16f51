"""The bridge's typed errors.

The python3 runtime reports ``type(exc).__name__`` as the Lambda ``errorType``, and Step Functions
Retry/Catch match on it, so every failure the bridge raises has a stable class name. These names are
part of the public contract (docs/protocol.md lists them); renaming one is a breaking change.
"""

from __future__ import annotations


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


class UnsupportedEvent(BridgeError):
    """The mode cannot serve this kind of event (CGI mode and a non-HTTP event)."""


class BinaryError(Exception):
    """Base of errors whose type the binary chose itself (its JSON error line or error reply)."""


_MAX_CACHED_TYPES = 256
_binary_error_types: dict[str, type[BinaryError]] = {}


def binary_error(error_type: str, message: str) -> BinaryError:
    """An exception whose class name is exactly ``error_type``, so Lambda reports that errorType."""
    cls = _binary_error_types.get(error_type)
    if cls is None:
        name = error_type.replace("\0", "") or "BinaryError"
        cls = type(name, (BinaryError,), {"__module__": __name__})
        if len(_binary_error_types) < _MAX_CACHED_TYPES:
            _binary_error_types[error_type] = cls
    return cls(message)
