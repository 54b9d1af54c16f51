"""Both JSON backends, and the cases where orjson refuses what the standard library accepts."""

from __future__ import annotations

import json

import pytest
from conftest import invoke

from bridge import codec


@pytest.fixture(params=["stdlib", "orjson"])
def backend(request):
    """(dumps, loads) of one backend; orjson loaded as after the crossover, for this test only (conftest puts
    the codec back to its cold-start state after every test)."""
    if request.param == "stdlib":
        return codec._stdlib_dumps, codec._stdlib_loads
    pytest.importorskip("orjson")
    codec._backend()
    return codec._orjson_dumps, codec._orjson_loads


def test_orjson_is_in_use_when_installed():
    pytest.importorskip("orjson")
    assert codec.BACKEND == "orjson"


@pytest.mark.parametrize(
    "value",
    [{"a": [1, 2.5, None, True]}, "line\nbreak", "\ud800 lone surrogate", 2**70, [], "日本 🦀"],
    ids=["object", "newline", "surrogate", "bigint", "list", "unicode"],
)
def test_round_trip_on_one_line(backend, value):
    dumps, loads = backend
    data = dumps(value)
    assert b"\n" not in data  # one document is one line: the persistent framing relies on it
    assert loads(data) == value
    assert json.loads(data) == value


def test_decode_error_is_typed(backend):
    _, loads = backend
    with pytest.raises(codec.DecodeError):
        loads(b"{nope")


def test_orjson_is_imported_only_after_a_megabyte_of_json(monkeypatch):
    """Importing it (~20 ms) pays only over about that much JSON: before, the standard library works."""
    if codec.BACKEND != "orjson":
        pytest.skip("orjson is not installed")
    monkeypatch.setattr(codec, "_impl", None)
    monkeypatch.setattr(codec, "_stdlib_bytes", 0)
    eighth = {"body": "é" * (codec.CROSSOVER_BYTES // 16)}  # two UTF-8 bytes a character: an eighth of it
    assert codec.loads(codec.dumps(eighth)) == eighth and codec._impl is None  # a quarter of it counted
    larger = {"body": eighth["body"] * 3}  # three eighths
    first = codec.dumps(larger)  # five eighths counted
    assert codec._impl is None
    second = codec.dumps(larger)  # past it: orjson from now on
    assert codec._impl is not None and codec._impl[0] is codec._orjson_dumps
    assert first == second == codec.dumps(larger)  # the same bytes from either backend


def test_a_test_starts_as_a_cold_start_does_with_the_standard_library(make_bridge):
    """What production runs for small events: orjson is not loaded until a megabyte of JSON went through."""
    assert codec._impl is None and codec._stdlib_bytes == 0
    assert invoke(make_bridge("echo"), {"small": [1, 2]}) == {"small": [1, 2]}
    assert codec._impl is None
