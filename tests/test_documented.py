"""Behaviour the docs promise that no other test held (the review of issue 25): each here could fail."""

from __future__ import annotations

import json
import os

import pytest
from conftest import api_request, invoke, sample_event

from bridge import errors, log_records
from bridge.modes import runtime_api
from bridge.runtime_server import Delivery


def test_a_runtime_that_never_asks_for_an_invocation_fails_at_the_init_limit(make_bridge, monkeypatch):
    monkeypatch.setattr(runtime_api, "INIT_LIMIT_S", 1.0)  # Lambda's 10 s, shortened
    with pytest.raises(errors.BinaryTimeout, match="did not ask for an invocation within 1 s"):
        make_bridge("-c 'sleep 30'", binary="/bin/sh", mode="runtime-api", runtime_api="proxy")


def test_an_abandoned_request_id_is_answered_403(server):
    delivery = Delivery("gone-1", b"{}", {"Lambda-Runtime-Aws-Request-Id": "gone-1"})
    server.offer(delivery)
    api_request(server, "GET", "/2018-06-01/runtime/invocation/next")
    server.withdraw(delivery)  # the bridge gave up on it: its deadline passed
    response, body = api_request(server, "POST", "/2018-06-01/runtime/invocation/gone-1/response", b'"late"')
    assert response.status == 403 and b"InvalidStateTransition" in body and not delivery.done()


def test_cgi_output_over_the_cap_is_output_too_large(make_bridge):
    script = "-c 'printf \"Content-Type: text/plain\\r\\n\\r\\n\"; head -c 5000 /dev/zero'"
    bridge = make_bridge(script, binary="/bin/sh", mode="cgi", max_output_bytes="4096")
    with pytest.raises(errors.OutputTooLarge):
        invoke(bridge, sample_event("api_gateway_v2"))
    small = make_bridge(script.replace("5000", "4096"), binary="/bin/sh", mode="cgi", max_output_bytes="4096")
    assert invoke(small, sample_event("api_gateway_v2"))["statusCode"] == 200  # the cap counts the body only


def test_text_output_that_is_not_utf8_is_invalid_output(make_bridge):
    with pytest.raises(errors.InvalidOutput, match="not UTF-8"):
        invoke(make_bridge("bytes", output="text"), {})


@pytest.fixture
def json_records():
    """Log records a JSON-format writer makes of some lines, read back."""
    def records(*lines: bytes) -> list[dict]:
        read, write = os.pipe()
        writer = log_records.Writer({"AWS_LAMBDA_LOG_FORMAT": "JSON"}, log_records.INFO, fd=write)
        writer.lines(list(lines), "req-1", "binary.stderr")
        os.close(write)
        with os.fdopen(read, "rb") as pipe:
            return [json.loads(line) for line in pipe.read().splitlines()]
    return records


def test_json_records_of_lines_that_are_not_utf8_keep_them_readable(json_records):
    [record] = json_records(b"caf\xe9 \xff")
    assert record["message"] == "caf\ufffd \ufffd" and record["requestId"] == "req-1"


def test_json_records_take_fatal_as_critical_and_keep_a_lines_own_fields(json_records):
    fatal, own = json_records(b'{"level":"fatal","msg":"down"}',
                              b'{"level":"warn","msg":"m","timestamp":"2026-01-01T00:00:00Z","logger":"mine",'
                              b'"requestId":"forged"}')
    assert fatal["level"] == "CRITICAL" and fatal["message"] == "down"
    assert own["level"] == "WARNING" and own["timestamp"] == "2026-01-01T00:00:00Z" and own["logger"] == "mine"
    assert own["requestId"] == "req-1"  # its own request id cannot replace the call's
