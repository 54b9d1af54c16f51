"""Property-based tests (hypothesis): the codec, the HTTP shaping, the CGI parser and the framing readers
hold for any input, not just the ones we thought of."""

from __future__ import annotations

import base64
import json
import math
import os

import pytest
from conftest import sample_event
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bridge import codec, errors, http, log_records, logs
from bridge.capture import Line, Storage
from bridge.modes.cgi import MalformedCgiResponse, parse_response

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Every Unicode code point, lone surrogates included (valid in a Python str, refused by orjson).
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=20)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | ANY_TEXT
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(ANY_TEXT, inner, max_size=4), max_leaves=30)


def typed(value: object) -> object:
    """``value`` with every scalar tagged by its type, so 1 and 1.0 and True compare unequal."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


@PROPERTY
@given(JSON_VALUES)
def test_every_json_value_round_trips_exactly(value):
    assert typed(codec.loads(codec.dumps(value))) == typed(value)
    assert typed(codec._stdlib_loads(codec._stdlib_dumps(value))) == typed(value)  # the standard library alone
    saved = codec._impl
    try:
        codec._backend()  # orjson, loaded as after the crossover, for this example only
        assert typed(codec._orjson_loads(codec._orjson_dumps(value))) == typed(value)  # and orjson alone
    finally:
        codec._impl = saved
    assert b"\n" not in codec.dumps(value)  # one line: the framing relies on it


@PROPERTY
@given(JSON_VALUES, st.sampled_from([math.nan, math.inf, -math.inf]))
def test_a_non_finite_float_anywhere_is_refused_by_both_backends(value, bad):
    for holder in ([value, bad], {"k": [value, {"deep": bad}]}):
        with pytest.raises(codec.EncodeError):
            codec.dumps(holder)
        with pytest.raises(codec.EncodeError):
            codec._stdlib_dumps(holder)


@PROPERTY
@given(st.binary(max_size=200) | st.text(max_size=100).map(str.encode))
@example(b'"\xed\xa0\x80"')  # a lone surrogate, UTF-8-encoded: what json reads, not strict UTF-8
@example('"1"'.encode("utf-16"))  # UTF-16 with its byte-order mark
@example(b"[123456789012345678901234567890, -1e400]")  # a long integer, then a float too large
def test_any_bytes_decode_to_a_value_or_fail_typed(data):
    """Accepted exactly when Python's own json reads the bytes as UTF-8 JSON with finite numbers, and then to
    the same value; refused (typed) otherwise."""
    expected = standard_reading(data)
    try:
        value = codec.loads(data)
    except codec.DecodeError:
        assert expected is REFUSED, f"refused what the standard library reads as {expected!r}"
        return
    assert expected is not REFUSED and typed(value) == typed(expected)
    assert typed(codec.loads(codec.dumps(value))) == typed(value)


REFUSED = object()


def standard_reading(data: bytes) -> object:
    """What the standard library's json reads from ``data`` (UTF-8, -16 or -32, lone surrogates passed, as
    ``json.loads`` reads bytes), numbers finite; else REFUSED."""
    def finite(text: str) -> float:
        number = float(text)
        if math.isinf(number):
            raise ValueError(text)
        return number

    def no_constants(name: str) -> object:
        raise ValueError(name)

    try:
        return json.loads(data, parse_float=finite, parse_constant=no_constants)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return REFUSED


# HTTP shaping: any output becomes a valid proxy response for every format.

EVENTS = {name: sample_event(name)
          for name in ("api_gateway_v1", "api_gateway_v2", "function_url", "alb", "alb_multi_value")}
SCALAR_HEADER = (str, int, float, bool)


def assert_valid_proxy_response(name: str, response: dict) -> None:
    status = response["statusCode"]
    assert type(status) is int and 100 <= status <= 599
    body = response.get("body")
    assert body is None or isinstance(body, str)  # null: no body, which every integration accepts
    assert isinstance(response.get("isBase64Encoded", False), bool)
    if response.get("isBase64Encoded") and body:
        base64.b64decode(body, validate=True)
    for header, value in (response.get("headers") or {}).items():
        assert isinstance(header, str) and isinstance(value, SCALAR_HEADER)
    for header, values in (response.get("multiValueHeaders") or {}).items():
        assert isinstance(header, str) and isinstance(values, list)
        assert all(isinstance(v, SCALAR_HEADER) for v in values)
    if name.startswith("alb"):
        assert isinstance(response["statusDescription"], str)
    json.dumps(response, allow_nan=False)  # what the runtime then sends


HEADERS = st.dictionaries(st.text(max_size=8), st.text(max_size=8) | st.integers() | st.lists(st.text(max_size=4)),
                          max_size=3)
PROXY_LIKE = st.fixed_dictionaries(
    {"statusCode": st.integers(100, 599) | st.integers(0, 700) | st.text(max_size=4) | st.none()},
    optional={"headers": HEADERS | st.text(max_size=4), "multiValueHeaders": HEADERS,
              "body": st.text(max_size=20) | st.integers() | st.none(),
              "isBase64Encoded": st.booleans() | st.text(max_size=3), "cookies": st.lists(st.text(max_size=8))},
)
OUTPUTS = (st.binary(max_size=64) | st.text(max_size=64).map(str.encode) | JSON_VALUES.map(codec.dumps)
           | PROXY_LIKE.map(codec.dumps))


@PROPERTY
@given(st.sampled_from(sorted(EVENTS)), OUTPUTS, st.booleans())
def test_any_output_becomes_a_valid_response_for_every_format(name, output, json_output):
    door = http.front_door(EVENTS[name])
    try:
        response = door.output(output, json_output)
    except errors.InvalidOutput as exc:  # a malformed proxy response of its own: BRIDGE_HTTP_ERRORS=response
        assert json_output and proxy_attempt(standard_reading(output)), "only a proxy response of its own is refused"
        response = door.error(exc)
    assert_valid_proxy_response(name, response)


def proxy_attempt(value: object) -> bool:
    return isinstance(value, dict) and "statusCode" in value


def valid_proxy_response(value: dict) -> bool:
    """The contract a binary's own proxy response meets (README: HTTP front doors), stated independently."""
    status = value.get("statusCode")
    if isinstance(status, str) and status.isascii() and status.isdigit():
        status = int(status)
    scalar = (str, int, float, bool)
    headers = value.get("headers")
    multi = value.get("multiValueHeaders")
    body = value.get("body")
    flag = value.get("isBase64Encoded", False)
    return (type(status) is int and 100 <= status <= 599
            and (headers is None or isinstance(headers, dict) and all(isinstance(v, scalar) for v in headers.values()))
            and (multi is None or isinstance(multi, dict) and all(
                isinstance(vs, list) and all(isinstance(v, scalar) for v in vs) for vs in multi.values()))
            and (body is None or isinstance(body, str)) and type(flag) is bool
            and not (flag and body and not base64_text(body)))


def base64_text(body: str) -> bool:
    try:
        base64.b64decode(body.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return False
    return True


@PROPERTY
@given(st.sampled_from(sorted(EVENTS)), PROXY_LIKE)
def test_a_proxy_response_of_the_binarys_own_is_passed_only_when_valid(name, proxy):
    door = http.front_door(EVENTS[name])
    try:
        response = door.output(codec.dumps(proxy), True)
    except errors.InvalidOutput as exc:
        assert not valid_proxy_response(proxy), f"a valid proxy response was refused: {exc}"
        response = door.error(exc)
    else:
        assert valid_proxy_response(proxy), "an invalid proxy response was passed"
        assert response["statusCode"] == int(proxy["statusCode"]) and response.get("body") == proxy.get("body")
    assert_valid_proxy_response(name, response)


@PROPERTY
@given(st.sampled_from(sorted(EVENTS)), JSON_VALUES | PROXY_LIKE)
def test_any_decoded_result_becomes_a_valid_response_for_every_format(name, value):
    door = http.front_door(EVENTS[name])
    try:
        response = door.value(value)
    except errors.InvalidOutput as exc:
        assert proxy_attempt(value) and not valid_proxy_response(value), "only a malformed proxy response fails"
        response = door.error(exc)
    assert_valid_proxy_response(name, response)


CGI_LINES = st.sampled_from([b"Content-Type: text/plain", b"Status: 404 Not Found", b"Status: 99", b"Location: /x",
                             b"X-Caf\xc3\xa9: \xff", b"Set-Cookie: a=1", b"no colon", b" : empty", b""])


@PROPERTY
@given(st.sampled_from(sorted(EVENTS)), st.lists(CGI_LINES, max_size=4), st.sampled_from([b"\r\n", b"\n"]),
       st.binary(max_size=32) | st.sampled_from([b"", b"\r\n\r\n", b"\n\n"]))
def test_the_cgi_parser_turns_any_output_into_a_valid_response(name, head, newline, body):
    output = newline.join(head) + newline + newline + body if head else body
    try:
        reply = parse_response(output)
    except MalformedCgiResponse:
        return  # CGI mode answers these with a 502 (tests/test_http.py); the next test holds the other half
    assert_valid_proxy_response(name, http.front_door(EVENTS[name]).response(reply))


WELL_FORMED = st.sampled_from([b"X-Caf\xc3\xa9: \xff", b"Set-Cookie: a=1", b"Cache-Control: no-store",
                               b"Status: 404 Not Found", b"Status: 201"])


@PROPERTY
@given(st.lists(WELL_FORMED, max_size=4), st.sampled_from([b"\r\n", b"\n"]), st.binary(max_size=32))
def test_a_well_formed_cgi_response_is_parsed_and_its_body_kept(head, newline, body):
    """Header fields that are all well formed, a Content-Type among them: parsed, never refused; the status
    is the last Status field's (200 without one), and the body is exactly what followed the blank line."""
    lines = [b"Content-Type: application/octet-stream", *head]
    reply = parse_response(newline.join(lines) + newline + newline + body)
    statuses = [int(line.split()[1]) for line in lines if line.startswith(b"Status:")]
    assert reply.status == (statuses[-1] if statuses else 200)
    assert reply.body == body
    assert ("Content-Type", "application/octet-stream") in reply.headers


# Framing readers never lose or merge a message, however the bytes are cut.

MESSAGES = st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=12)


@PROPERTY
@given(MESSAGES, st.lists(st.integers(1, 50), min_size=1, max_size=20))
def test_line_framing_reads_each_message_whole(messages, cuts):
    stream = b"".join(message + b"\n" for message in messages)
    read, write = os.pipe()
    os.set_blocking(read, False)
    try:
        line = Line(1000, Storage(16), chunk=7)
        got, offset, sizes = [], 0, iter(cuts * len(stream))
        while len(got) < len(messages):
            if offset < len(stream):
                size = next(sizes)
                offset += os.write(write, stream[offset:offset + size])
            try:
                while not line.complete():
                    line.read_from(read)
            except BlockingIOError:  # all that was written is read
                pass
            while line.complete():
                got.append(bytes(line.take()))
                line.next_line()
        assert got == messages
    finally:
        os.close(read)
        os.close(write)


class CapturedLines:
    """Stands in for the record writer: keeps each message the stream log hands it."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    def lines(self, lines, request_id: str, logger: str) -> None:
        assert request_id == "req" and logger == "binary.stderr"
        self.messages.extend(bytes(line) for line in lines)


@PROPERTY
@given(st.binary(max_size=300).map(lambda b: b.replace(b"\0", b"")), st.lists(st.integers(1, 60), min_size=1))
def test_the_stream_log_loses_nothing_however_lines_are_cut(small_pieces, data, cuts):
    captured = CapturedLines()
    small_pieces.setattr(log_records, "_writer", captured)
    log = logs.StreamLog("stderr", "req")
    offset, sizes = 0, iter(cuts * (len(data) + 1))
    while offset < len(data):
        size = next(sizes)
        log.feed(data[offset:offset + size])
        offset += size
    log.flush()
    mark = logs.CUT_MARK
    rebuilt = b"".join(m.removesuffix(mark) + (b"" if m.endswith(mark) else b"\n") for m in captured.messages)
    assert rebuilt == data + (b"\n" if data and not data.endswith(b"\n") else b"")
    assert all(b"\n" not in m and len(m) <= logs.LINE_MAX + len(mark) for m in captured.messages)


@pytest.fixture(scope="module")
def small_pieces():
    """Small pieces, so that cutting is exercised on small examples."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(logs, "LINE_MAX", 16)
        patch.setattr(logs, "CUT_MARK", b" \0cut")  # NUL: the examples have none
        yield patch
