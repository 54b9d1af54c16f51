"""JSON encoding and decoding: orjson when it is importable, the standard library otherwise.

The Lambda python runtime does not ship orjson; the deployable package vendors it, and everything
still works (slower) without it. ``BRIDGE_JSON=stdlib`` forces the standard library. orjson refuses
a few things the standard library accepts (lone surrogates, integers past 64 bits); those fall back
to the standard library instead of failing.
"""

from __future__ import annotations

import os

try:
    if os.environ.get("BRIDGE_JSON") == "stdlib":
        raise ImportError("BRIDGE_JSON=stdlib")
    import orjson as _orjson
except ImportError:
    _orjson = None  # type: ignore[assignment]  # the module or nothing

BACKEND = "orjson" if _orjson is not None else "json"


class DecodeError(ValueError):
    """Bytes that are not one JSON document."""


def _stdlib_dumps(value: object) -> bytes:
    import json

    # ensure_ascii keeps lone surrogates representable (as \\u escapes); no raw newline is ever emitted.
    return json.dumps(value, separators=(",", ":")).encode("ascii")


def _stdlib_loads(data: bytes | bytearray | memoryview | str) -> object:
    import json

    if isinstance(data, memoryview):
        data = bytes(data)
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(str(exc)) from None


if _orjson is not None:
    _OrjsonEncodeError = _orjson.JSONEncodeError
    _OrjsonDecodeError = _orjson.JSONDecodeError

    def dumps(value: object) -> bytes:
        """One line of compact JSON (never contains a raw newline)."""
        try:
            return _orjson.dumps(value)
        except _OrjsonEncodeError:
            return _stdlib_dumps(value)

    def loads(data: bytes | bytearray | memoryview | str) -> object:
        """Parse one JSON document; raises DecodeError."""
        try:
            return _orjson.loads(data)
        except _OrjsonDecodeError:
            return _stdlib_loads(data)

else:
    dumps = _stdlib_dumps
    loads = _stdlib_loads
