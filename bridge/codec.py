"""JSON encoding and decoding, exact or refused: orjson when it is importable, the standard library otherwise.

The Lambda python runtime does not ship orjson; the deployable package vendors it, and everything
still works (slower) without it. ``BRIDGE_JSON=stdlib`` forces the standard library.

Fidelity, with either backend:
- every integer round-trips exactly. orjson refuses to encode integers past 64 bits and decodes them
  as floats (lossily), so text holding a run of 19 or more digits is decoded by the standard library;
- NaN and Infinity are not JSON: decoding refuses them (the literals, and numbers too large for a
  float), and encoding refuses a non-finite float (orjson would write it as null);
- nesting deeper than either parser goes is refused with ``DecodeError`` / ``EncodeError``, never
  ``RecursionError``;
- lone surrogates (valid in a Python str, refused by orjson) are encoded as ``\\u`` escapes.
"""

from __future__ import annotations

import json  # the runtime has imported it before the handler module
import math
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_orjson: Any = None  # imported at first use

def _find_orjson() -> bool:
    if os.environ.get("BRIDGE_JSON") == "stdlib":
        return False
    from importlib.util import find_spec

    return find_spec("orjson") is not None


# orjson is not imported at init: importing it costs ~20 ms (dataclasses, inspect, uuid), paid back only over
# about a megabyte of JSON (CROSSOVER_BYTES below), and never by a cold start that hands the process over.
BACKEND = "orjson" if _find_orjson() else "json"
# A digit becomes "0", anything else a space: a run of LONG_NUMBER zeros is a number orjson may round.
_DIGITS_AS_ZEROS = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
_LONG_NUMBER = b"0" * 19


class DecodeError(ValueError):
    """Bytes that are not one JSON document."""


class Unrepresentable(DecodeError):
    """JSON text with no exact Python value here: a non-finite number, or nesting too deep to parse."""


class EncodeError(ValueError):
    """A value that has no exact JSON text (NaN, Infinity, nesting too deep, not a JSON type)."""


def _refuse_constant(name: str) -> float:
    raise Unrepresentable(f"{name} is not JSON (non-finite numbers are refused)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Unrepresentable(f"the number {text[:40]} is too large for a float")
    return value


def _all_finite(value: object) -> bool:
    """No NaN or Infinity anywhere in ``value`` (orjson encodes them as null). A loop over containers,
    not a call per value: it runs on every encoded event that holds a null."""
    isfinite = math.isfinite
    containers: list = [[value]]
    while containers:
        container = containers.pop()
        for item in container.values() if type(container) is dict else container:
            kind = type(item)
            if kind is dict or kind is list or kind is tuple:
                containers.append(item)
            elif kind is float and not isfinite(item):
                return False
    return True


# Made once: json.dumps and json.loads with any option build a new encoder or decoder on every call.
_UTF8 = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False)
_ASCII = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def _stdlib_dumps(value: object) -> bytes:
    try:
        try:  # UTF-8, as orjson writes it; a lone surrogate (no UTF-8 for it) is written as a \\u escape
            return _UTF8.encode(value).encode("utf-8")
        except UnicodeEncodeError:
            return _ASCII.encode(value).encode("ascii")
    except RecursionError:
        raise EncodeError("the value is nested too deeply to encode as JSON") from None
    except ValueError as exc:  # allow_nan=False: "Out of range float values are not JSON compliant"
        raise EncodeError(f"NaN and Infinity are not JSON: {exc}") from None
    except TypeError as exc:
        raise EncodeError(str(exc)) from None


def _stdlib_loads(data: bytes | bytearray | memoryview | str) -> object:
    try:
        if not isinstance(data, str):  # as json.loads reads bytes: UTF-8, -16 or -32
            raw = bytes(data)
            data = raw.decode(json.detect_encoding(raw), "surrogatepass")
        return _DECODER.decode(data)
    except RecursionError:
        raise Unrepresentable("the document is nested too deeply to decode") from None
    except DecodeError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(str(exc)) from None


def _has_long_number(data: bytes | bytearray | memoryview | str) -> bool:
    if len(data) < len(_LONG_NUMBER):
        return False
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    elif isinstance(data, memoryview):
        data = data.tobytes()
    return _LONG_NUMBER in data.translate(_DIGITS_AS_ZEROS)


def _orjson_dumps(value: object) -> bytes:
    """One line of compact JSON (never contains a raw newline); ``EncodeError`` when not exact."""
    try:
        text = _orjson.dumps(value)
    except _orjson.JSONEncodeError:
        return _stdlib_dumps(value)
    if b"null" in text and not _all_finite(value):
        raise EncodeError("NaN and Infinity are not JSON: the value holds a non-finite float")
    return text


def _orjson_loads(data: bytes | bytearray | memoryview | str) -> object:
    """Parse one JSON document exactly; raises DecodeError."""
    if _has_long_number(data):
        return _stdlib_loads(data)
    try:
        return _orjson.loads(data)
    except _orjson.JSONDecodeError:
        return _stdlib_loads(data)


_impl: tuple[Callable[[object], bytes], Callable[[bytes | bytearray | memoryview | str], object]] | None = None


def _backend() -> tuple[Callable[[object], bytes], Callable[[bytes | bytearray | memoryview | str], object]]:
    """The backend's encode and decode, importing orjson now if it is the one."""
    global _impl, _orjson
    if _impl is None:
        _impl = (_stdlib_dumps, _stdlib_loads)
        if BACKEND == "orjson":
            try:
                import orjson
            except ImportError:  # found, but built for another Python (a package made for the runtime's)
                return _impl
            _orjson = orjson
            _impl = (_orjson_dumps, _orjson_loads)
    return _impl


# Until then the standard library does the work (the runtime has imported it already): importing orjson
# costs ~20 ms, which it wins back only over about this much JSON (~18 µs a KB saved, measured).
CROSSOVER_BYTES = 1 << 20
_stdlib_bytes = 0


def _counted(size: int) -> None:
    global _stdlib_bytes
    _stdlib_bytes += size
    if _stdlib_bytes >= CROSSOVER_BYTES:
        _backend()


def dumps(value: object) -> bytes:
    """One line of compact JSON (never contains a raw newline); ``EncodeError`` when not exact."""
    if _impl is not None:
        return _impl[0](value)
    text = _stdlib_dumps(value)
    _counted(len(text))
    return text


def loads(data: bytes | bytearray | memoryview | str) -> object:
    """Parse one JSON document exactly; raises DecodeError."""
    if _impl is not None:
        return _impl[1](data)
    _counted(len(data))
    return _stdlib_loads(data)
