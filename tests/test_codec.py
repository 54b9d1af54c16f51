"""Both JSON backends, and the cases where orjson refuses what the standard library accepts."""

from __future__ import annotations

import importlib.util
import json
import math

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


def test_decode_error_is_typed_and_says_where(backend):
    _, loads = backend
    with pytest.raises(codec.DecodeError, match="line 1 column 2|char 1"):
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


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_float_is_refused_wherever_it_is(backend, bad):
    dumps, loads = backend
    for holder in (bad, [1, bad], {"k": {"deep": [None, bad]}}, ({"t": (bad,)},)):
        with pytest.raises(codec.EncodeError, match="NaN and Infinity are not JSON"):
            dumps(holder)
    assert loads(dumps([None, 1.5, {"k": None}, (None,)])) == [None, 1.5, {"k": None}, [None]]  # null alone is fine


@pytest.mark.parametrize("form", [bytes, bytearray, memoryview, bytes.decode], ids=["bytes", "bytearray",
                                                                                     "memoryview", "str"])
def test_long_integers_are_exact_from_any_form_of_input(backend, form):
    _, loads = backend
    text = b"[18446744073709551616, -123456789012345678901234567890, 1234567890123456789]"
    assert loads(form(text)) == [2**64, -123456789012345678901234567890, 1234567890123456789]


def test_a_long_integer_beside_a_lone_surrogate_in_text(backend):
    _, loads = backend
    assert loads('["\ud800", 123456789012345678901234567890]') == ["\ud800", 123456789012345678901234567890]


def test_after_the_crossover_both_ways_go_through_orjson():
    pytest.importorskip("orjson")
    codec._stdlib_bytes = codec.CROSSOVER_BYTES - 5
    codec.dumps([1, 2, 3])  # 7 bytes: the crossover is reached exactly or passed
    assert codec._impl == (codec._orjson_dumps, codec._orjson_loads)
    assert codec.loads(b'{"a":[1,2]}') == {"a": [1, 2]} and codec.dumps({"a": 1}) == b'{"a":1}'


def test_the_crossover_is_reached_at_its_exact_size():
    pytest.importorskip("orjson")
    codec._stdlib_bytes = codec.CROSSOVER_BYTES - 7
    codec.dumps([1, 2, 3])  # exactly 7 bytes: [1,2,3]
    assert codec._impl is not None


def test_without_orjson_the_backend_is_the_standard_library(monkeypatch):
    monkeypatch.setattr(codec, "BACKEND", "json")
    assert codec._backend() == (codec._stdlib_dumps, codec._stdlib_loads)


def test_bridge_json_stdlib_means_orjson_is_never_looked_for(monkeypatch):
    monkeypatch.setenv("BRIDGE_JSON", "stdlib")
    assert codec._find_orjson() is False
    monkeypatch.setenv("BRIDGE_JSON", "orjson")
    assert codec._find_orjson() is (importlib.util.find_spec("orjson") is not None)


def test_what_cannot_be_exact_says_why(backend):
    dumps, loads = backend
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(codec.EncodeError, match="nested too deeply"):
        dumps(deep)
    with pytest.raises(codec.DecodeError, match="nested too deeply"):
        loads(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(codec.DecodeError, match="1e400 is too large for a float"):
        loads(b"[1e400]")
    with pytest.raises(codec.DecodeError, match="NaN is not JSON"):
        loads(b"[NaN]")
    with pytest.raises(codec.EncodeError, match="not JSON serializable|Type is not JSON serializable"):
        dumps({"k": object()})
