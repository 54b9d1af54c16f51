"""BRIDGE_BATCH=records: SQS, Kinesis and DynamoDB Streams batches, one run per record, partial batch
responses, with real binaries failing on chosen records (tests/binaries/hostile.c "record")."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys

import pytest
from conftest import ROOT, invoke, sample_event, settings_environ

from bridge import errors

EVENTS = {name: sample_event(name)
          for name in ("sqs", "sqs_fifo", "kinesis", "dynamodb")}


def batch_of(name: str, payloads: list[str]) -> tuple[dict, list[str]]:
    """An event of that source with one record per payload (the payload in the record's body or data);
    and the records' identifiers."""
    template = EVENTS[name]["Records"][0]
    records, ids = [], []
    for number, payload in enumerate(payloads):
        record = copy.deepcopy(template)
        identifier = f"{name}-{number:03d}"
        if name.startswith("sqs"):
            record.update(messageId=identifier, body=payload)
        elif name == "kinesis":
            record["kinesis"].update(sequenceNumber=identifier, data=base64.b64encode(payload.encode()).decode())
        else:
            record["dynamodb"].update(SequenceNumber=identifier, NewImage={"Message": {"S": payload}})
        records.append(record)
        ids.append(identifier)
    return {"Records": records}, ids


def failures(response: dict) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


@pytest.fixture
def batch(make_bridge, binaries):
    def make(**settings: str):
        return make_bridge("record", binary=binaries["hostile"], batch="records", **settings)
    return make


@pytest.mark.parametrize("name, stdin", [("sqs", "event"), ("sqs", "body"), ("kinesis", "body"),
                                         ("dynamodb", "event"), ("dynamodb", "body")])  # Kinesis JSON: data in base64
def test_each_source_reports_the_records_that_failed(batch, name, stdin):
    event, ids = batch_of(name, ["ok", "poison", "ok", "garbage", "crash"])
    assert failures(invoke(batch(stdin=stdin), event)) == (
        [ids[1], ids[3], ids[4]] if name == "sqs" else ids[1:])  # streams stop at the first failure


def test_success_is_an_empty_list(batch):
    event, _ = batch_of("sqs", ["a", "b"])
    assert invoke(batch(), event) == {"batchItemFailures": []}


@pytest.mark.parametrize("name", ["sqs", "kinesis"])
def test_stdin_body_is_the_message_body_or_the_decoded_data(make_bridge, binaries, name):
    """misbehave echo replies with what it read, and a reply must be JSON."""
    event, ids = batch_of(name, ['{"valid": "json"}', "plain text"])
    bodies = make_bridge("echo", binary=binaries["misbehave"], batch="records", stdin="body")
    assert failures(invoke(bodies, event)) == [ids[1]]  # the text itself reached stdin: not JSON
    records = make_bridge("echo", binary=binaries["misbehave"], batch="records")
    assert failures(invoke(records, event)) == []  # the record, as JSON


def test_kinesis_data_that_is_not_base64_fails_its_record(make_bridge, binaries, capfd):
    event, ids = batch_of("kinesis", ["fine", "fine"])
    event["Records"][1]["kinesis"]["data"] = "not base64!"
    bridge = make_bridge("echo", binary=binaries["misbehave"], batch="records", stdin="body",
                         output="text")
    assert failures(invoke(bridge, event)) == [ids[1]]
    assert f"record {ids[1]} failed: InvalidEvent" in capfd.readouterr().err


def test_kinesis_data_is_decoded_only_for_stdin_body(make_bridge, binaries):
    """With stdin the event, the record goes as JSON whatever its data holds."""
    event, _ = batch_of("kinesis", ["fine"])
    event["Records"][0]["kinesis"]["data"] = "not base64!"
    bridge = make_bridge("echo", binary=binaries["misbehave"], batch="records")
    assert failures(invoke(bridge, event)) == []


def test_fifo_stops_at_the_first_failure_and_fails_every_later_record(batch):
    event, ids = batch_of("sqs_fifo", ["ok", "poison", "ok", "ok"])
    assert failures(invoke(batch(), event)) == ids[1:]


def test_standard_queue_records_are_independent(batch):
    event, ids = batch_of("sqs", ["poison", "ok", "ok", "poison"])
    assert failures(invoke(batch(batch_concurrency="1"), event)) == [ids[0], ids[3]]


def spans(trace) -> list[tuple[int, int]]:
    starts, ends = [], []
    for line in trace.read_text().split("\n"):
        if line:
            kind, ns = line.split()
            (starts if kind == "start" else ends).append(int(ns))
    return list(zip(sorted(starts), sorted(ends), strict=True))


def most_at_once(intervals: list[tuple[int, int]]) -> int:
    points = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = most = 0
    for _, step in points:
        running += step
        most = max(most, running)
    return most


@pytest.mark.parametrize("concurrency", [1, 3])
def test_oneshot_runs_standard_queue_records_at_once_up_to_the_limit(batch, tmp_path, monkeypatch, concurrency):
    trace = tmp_path / "trace"
    monkeypatch.setenv("BATCH_TRACE", str(trace))
    payloads = ["sleep=300", "sleep=50 poison", "sleep=300", "sleep=10 poison", "sleep=200", "sleep=100"]
    event, ids = batch_of("sqs", payloads)
    response = invoke(batch(batch_concurrency=str(concurrency)), event)
    assert failures(response) == [ids[1], ids[3]]  # record order, whatever the finishing order
    assert most_at_once(spans(trace)) == concurrency


def test_ordered_sources_run_one_record_at_a_time(batch, tmp_path, monkeypatch):
    trace = tmp_path / "trace"
    monkeypatch.setenv("BATCH_TRACE", str(trace))
    event, _ = batch_of("kinesis", ["sleep=100"] * 4)
    assert failures(invoke(batch(batch_concurrency="4"), event)) == []
    assert most_at_once(spans(trace)) == 1


def test_the_deadline_cuts_the_batch_but_keeps_what_succeeded(batch):
    """2.9 s for records of 0.6 s each, one at a time: the fifth cannot finish (it would at 3.0 s at the
    earliest), and the first two have 1.7 s of slack, so a loaded machine cannot flip either way."""
    event, ids = batch_of("sqs", ["sleep=600"] * 5)
    response = invoke(batch(batch_concurrency="1", timeout_margin_ms="100"), event, timeout=3.0)
    failed = failures(response)
    assert failed and failed == ids[len(ids) - len(failed):]  # the first records succeeded, the last did not
    assert ids[0] not in failed and ids[1] not in failed and ids[4] in failed


def test_every_record_failing_raises_batch_failed_or_reports(batch):
    event, ids = batch_of("sqs", ["poison", "poison"])
    with pytest.raises(errors.BatchFailed) as caught:
        invoke(batch(), event)
    assert "Poisoned" in str(caught.value)
    assert failures(invoke(batch(batch_all_failed="report"), event)) == ids


def test_persistent_mode_sends_one_message_per_record_and_recovers_from_a_crash(make_bridge, binaries):
    bridge = make_bridge("envelope", binary=binaries["persist"], mode="persistent", framing="envelope",
                         batch="records", stdin="body")
    event, ids = batch_of("sqs", ['"pid"', '"typed"', '"pid"', '"crash"', '"pid"'])
    assert failures(invoke(bridge, event)) == [ids[1], ids[3]]


def test_persistent_mode_serves_a_whole_batch_with_one_process(make_bridge, binaries):
    """The process that answered before the batch answers after it: no record restarted it."""
    bridge = make_bridge("envelope", binary=binaries["persist"], mode="persistent", framing="envelope",
                         batch="records", stdin="body")
    before = invoke(bridge, "pid")["pid"]
    event, _ = batch_of("sqs", ['"pid"', '"typed"', '"pid"', '"pid"'])
    assert len(failures(invoke(bridge, event))) == 1
    assert invoke(bridge, "pid")["pid"] == before


def test_other_events_go_whole_to_the_binary_and_are_logged_once(batch, capfd):
    bridge = batch()
    mixed, _ = batch_of("sqs", ["a"])
    mixed["Records"].append(EVENTS["kinesis"]["Records"][0])
    for event in (mixed, {"not": "a batch"}, {"Records": [{"eventSource": "aws:sqs"}]}):
        assert invoke(bridge, event) == {}  # the binary's own reply, not a batch response
    assert capfd.readouterr().err.count("the whole event goes to the binary") == 1


def test_under_awslambdaric_through_the_emulator(binaries):
    event, ids = batch_of("sqs", ["ok", "poison", "ok"])
    environ = settings_environ(BRIDGE_BINARY=str(binaries["hostile"]), BRIDGE_ARGS="record", BRIDGE_BATCH="records")
    done = subprocess.run([sys.executable, "-m", "bridge.emulator"], input=json.dumps(event).encode(),
                          capture_output=True, cwd=ROOT, env=environ, timeout=120)
    assert json.loads(done.stdout)["response"] == {"batchItemFailures": [{"itemIdentifier": ids[1]}]}
    assert f"SQS record {ids[1]} failed: Poisoned" in done.stderr.decode()


def test_kinesis_data_that_is_not_strict_base64_fails_its_record(batch):
    """A lenient decoder would drop the stray characters and run the record on altered bytes."""
    event, ids = batch_of("kinesis", ["ok", "ok"])
    event["Records"][1]["kinesis"]["data"] = "b2s=@@"  # "ok" in base64, then characters base64 does not have
    assert failures(invoke(batch(stdin="body"), event)) == [ids[1]]


def test_an_sqs_body_reaches_the_binary_byte_for_byte_lone_surrogates_included(make_bridge):
    """The body a JSON event carries as "\\ud800" is the three bytes UTF-8 would give it (surrogatepass): the
    record fails unless the binary read exactly those."""
    check = "-c 'test \"$(od -An -tx1 | tr -d \" \\n\")\" = 6ceda080'"  # "l", then U+D800 as ED A0 80
    bridge = make_bridge(check, binary="/bin/sh", batch="records", stdin="body")
    event, ids = batch_of("sqs", ["l\ud800", "l\ud801"])
    assert failures(invoke(bridge, event)) == [ids[1]]
