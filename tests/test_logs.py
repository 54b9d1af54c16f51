"""Lambda-native logs, end to end: the real awslambdaric runs the handler through the emulator, which hands
it a telemetry channel as Lambda does and prints each framed record it receives."""

from __future__ import annotations

import collections
import json
import re

import pytest
from conftest import emulate as emulate_args  # this module's emulate returns its records
from conftest import invoke

from bridge import log_records

LINES = 10000
EMF = {"_aws": {"Timestamp": 1700000000000, "CloudWatchMetrics": [
    {"Namespace": "exec-bridge", "Dimensions": [["fn"]], "Metrics": [{"Name": "Hits", "Unit": "Count"}]}]},
    "fn": "f", "Hits": 1}


def emulate(binary, args: str, events: list, **env: str) -> tuple[list[dict], list[str]]:
    """(the emulator's result lines, the records it printed)."""
    _, results, stderr = emulate_args(events, BRIDGE_BINARY=str(binary), BRIDGE_ARGS=args, **env)
    assert results, stderr
    return results, stderr.splitlines()


def json_records(lines: list[str], request_id: str) -> list[dict]:
    records = [json.loads(line) for line in lines if line.startswith("{")]
    return [r for r in records if r.get("requestId") == request_id or "_aws" in r]


@pytest.mark.parametrize("level", ["INFO", "DEBUG", "ERROR"])
def test_json_format_one_record_per_line_with_levels_fields_and_emf(binaries, level):
    results, lines = emulate(binaries["hostile"], f"log-mix {LINES}", [{}], AWS_LAMBDA_LOG_FORMAT="JSON",
                             AWS_LAMBDA_LOG_LEVEL=level)
    request_id = results[0]["requestId"]
    records = json_records(lines, request_id)
    plain = [r for r in records if r.get("logger") == "binary.stderr" and r.get("level") == "INFO"]
    if level == "ERROR":
        assert plain == []
    else:  # nothing lost, nothing reordered, every record of this call
        expected = [f"plain line {i}" for i in range(LINES)] + ["the tail, without newline"]
        assert [r["message"] for r in plain] == expected
        assert all(set(r) == {"timestamp", "level", "message", "logger", "requestId"} for r in plain)
        warning = next(r for r in records if r.get("level") == "WARNING")
        assert warning["message"] == "careful" and warning["code"] == 7 and warning["severity"] == "WARN"
    debug = [r["message"] for r in records if r.get("level") == "DEBUG"]
    assert debug == (["a debug line", "a trace line"] if level == "DEBUG" else [])
    error = next(r for r in records if r.get("level") == "ERROR")
    assert error["message"] == "bad" and error["errorType"] == "Custom" and error["requestId"] == request_id
    assert "msg" not in error and error["levelname"] == "Error"
    assert [r for r in records if "_aws" in r] == [EMF]  # its top level unchanged: CloudWatch extracts it


def test_text_format_keeps_the_request_id_once(binaries):
    results, lines = emulate(binaries["hostile"], "log-mix 3", [{}])
    request_id = results[0]["requestId"]
    record = re.compile(rf"^\[(\w+)\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{request_id}\t(.*)$")
    mine = [record.match(line) for line in lines if request_id in line]
    assert all(mine) and all(line.count(request_id) == 1 for line in lines if request_id in line)
    messages = [(m.group(1), m.group(2)) for m in mine]
    assert messages[:3] == [("INFO", "plain line 0"), ("INFO", "plain line 1"), ("INFO", "plain line 2")]
    assert ("WARNING", '{"severity":"WARN","message":"careful","code":7}') in messages
    assert ("INFO", "the tail, without newline") in messages
    assert json.dumps(EMF, separators=(",", ":")) in lines  # a line of its own, unprefixed


@pytest.mark.parametrize("log_format", ["JSON", "Text"])
def test_records_logged_at_once_by_concurrent_batch_records_never_interleave(binaries, log_format):
    """Four records' binaries log 5,000 lines each at the same time, each chunk from its own thread: every
    frame reaches the channel whole, so every record decodes and no line is lost or torn."""
    records = [{"messageId": f"m{n}", "eventSource": "aws:sqs", "body": "x",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:queue"} for n in range(4)]
    results, lines = emulate(binaries["hostile"], "log-mix 5000", [{"Records": records}], BRIDGE_BATCH="records",
                             BRIDGE_BATCH_CONCURRENCY="4", AWS_LAMBDA_LOG_FORMAT=log_format)
    assert results[0]["response"] == {"batchItemFailures": []}
    request_id = results[0]["requestId"]
    if log_format == "JSON":
        messages = [json.loads(line).get("message") for line in lines]  # a torn frame would not decode
    else:
        prefix = re.compile(rf"^\[\w+\]\t\S+Z\t{request_id}\t(.*)$")
        messages = [match.group(1) for match in map(prefix.match, lines) if match]
    plain = collections.Counter(m for m in messages if isinstance(m, str) and m.startswith("plain line "))
    assert plain == {f"plain line {i}": 4 for i in range(5000)}


def test_stderr_level_sets_the_level_of_plain_lines(binaries):
    results, lines = emulate(binaries["hostile"], "log-mix 2", [{}], AWS_LAMBDA_LOG_FORMAT="JSON",
                             AWS_LAMBDA_LOG_LEVEL="WARNING", BRIDGE_STDERR_LEVEL="warn")
    records = json_records(lines, results[0]["requestId"])
    assert [r["message"] for r in records if r.get("level") == "WARNING"][:2] == ["plain line 0", "plain line 1"]


def test_the_bridges_own_warnings_carry_the_request_id_of_the_call(binaries):
    results, lines = emulate(binaries["hostile"], "persist exit-after-reply", [{"n": 1}, {"n": 2}],
                             AWS_LAMBDA_LOG_FORMAT="JSON", BRIDGE_MODE="persistent")
    assert [r["response"] for r in results] == [{"n": 1}, {"n": 2}]
    warnings = [json.loads(line) for line in lines if '"exec-bridge"' in line]
    assert warnings and warnings[0]["level"] == "WARNING" and "restarting it" in warnings[0]["message"]
    assert warnings[0]["requestId"] == results[1]["requestId"]


def test_a_warning_at_init_carries_no_request_id(tmp_path, binaries, monkeypatch, capfd):
    from bridge.bridge import Bridge
    from bridge.config import Config

    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tool").write_bytes(binaries["misbehave"].read_bytes())  # no exec bit
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    bridge = Bridge(Config.from_environ(str(tmp_path), {"BRIDGE_BINARY": "bin/tool"}))
    warning = [line for line in capfd.readouterr().err.splitlines() if "is not executable" in line]
    assert re.match(r"^\[WARNING\]\t\S+Z\t\t", warning[0])
    assert invoke(bridge, {"ok": 1}) == {"ok": 1}


def test_invalid_stderr_level_fails_the_init():
    from bridge.config import Config
    from bridge.errors import BridgeConfigError

    with pytest.raises(BridgeConfigError, match="BRIDGE_STDERR_LEVEL"):
        Config.from_environ("/task", {"BRIDGE_STDERR_LEVEL": "LOUD"})
    assert Config.from_environ("/task", {"BRIDGE_STDERR_LEVEL": "trace"}).stderr_level == log_records.DEBUG


def test_json_records_carry_the_tenant_of_the_call(binaries):
    """Tenant isolation: awslambdaric puts ``tenantId`` on its JSON records; the bridge's records of the
    binary's lines carry it too, and a line of the binary's own cannot replace it."""
    code, results, stderr = emulate_args([{}], "--tenant-id", "tenant-3", BRIDGE_BINARY=str(binaries["misbehave"]),
                                         BRIDGE_ARGS="stderr-ok", AWS_LAMBDA_LOG_FORMAT="JSON")
    assert code == 0, stderr
    records = json_records(stderr.splitlines(), results[0]["requestId"])
    binary_lines = [r for r in records if r.get("logger") == "binary.stderr"]
    assert [r["message"] for r in binary_lines] == ["first log line", "second log line", "third, no newline"]
    assert {r["tenantId"] for r in binary_lines} == {"tenant-3"}
