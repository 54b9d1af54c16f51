"""Both JSON backends, and the cases where orjson refuses what the standard library accepts."""

from __future__ import annotations

import json

import pytest

from bridge import codec

BACKENDS = {"stdlib": (codec._stdlib_dumps, codec._stdlib_loads)}
if codec.BACKEND == "orjson":
    BACKENDS["orjson"] = (codec.dumps, codec.loads)


def test_orjson_is_in_use_when_installed():
    pytest.importorskip("orjson")
    assert codec.BACKEND == "orjson"


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize(
    "value",
    [{"a": [1, 2.5, None, True]}, "line\nbreak", "\ud800 lone surrogate", 2**70, [], "日本 🦀"],
    ids=["object", "newline", "surrogate", "bigint", "list", "unicode"],
)
def test_round_trip_on_one_line(backend, value):
    dumps, loads = BACKENDS[backend]
    data = dumps(value)
    assert b"\n" not in data  # one document is one line: the persistent framing relies on it
    assert loads(data) == value
    assert json.loads(data) == value


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_decode_error_is_typed(backend):
    _, loads = BACKENDS[backend]
    with pytest.raises(codec.DecodeError):
        loads(b"{nope")
