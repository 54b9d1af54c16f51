"""End to end: the real AWS Python runtime client (awslambdaric) runs handler.handler against the emulator."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT, emulate, processes_with


def test_handler_under_awslambdaric_answers_each_event(project_binaries):
    code, lines, _ = emulate([{"a": 1}, "two", [3]], BRIDGE_BINARY="bin/hello")
    assert code == 0
    assert [line["response"]["eventBytes"] for line in lines] == [len('{"a":1}'), len('"two"'), len("[3]")]
    for line in lines:  # the request id awslambdaric saw reached the binary's environment
        assert line["response"]["requestId"] == line["requestId"]


def test_typed_error_body_as_the_client_posts_it(binaries):
    code, lines, _ = emulate([{}], BRIDGE_BINARY=str(binaries["misbehave"]), BRIDGE_ARGS="exit 2 json")
    assert code == 1
    error = lines[0]["error"]
    assert error["errorType"] == "PaymentDeclined"
    assert error["errorMessage"] == "card 42 was declined"
    assert isinstance(error["stackTrace"], list) and error["stackTrace"]
    assert error["requestId"] == lines[0]["requestId"]


def test_context_the_handler_sees():
    code, lines, _ = emulate(["probe"], "--handler", "tests/runtime_handlers/probe.handler", "--timeout", "12")
    assert code == 0
    seen, request_id = lines[0]["response"], lines[0]["requestId"]
    assert seen["requestId"] == request_id
    assert seen["functionArn"].endswith(":function:exec-bridge-emulated")
    assert seen["functionName"] == "exec-bridge-emulated"
    assert 8000 < seen["remainingMs"] <= 12000
    assert seen["traceId"].startswith("Root=1-")


def test_init_failure_is_reported_on_init_error():
    code, lines, err = emulate([{}], BRIDGE_BINARY="bin/does-not-exist")
    assert code == 1
    init = lines[0]["initError"]
    assert init["errorType"] == "BinaryNotFound"
    assert "bin/does-not-exist" in init["errorMessage"]


def test_another_runtime_command(project_binaries):
    code, lines, _ = emulate([{"k": "v"}], "--", "bin/runtime_go")
    assert code == 0 and lines[0]["response"]["event"] == {"k": "v"}


def test_bad_input_exits_2():
    done = subprocess.run([sys.executable, "-m", "bridge.emulator"], input=b"{nope", capture_output=True, cwd=ROOT)
    assert done.returncode == 2


def test_concurrent_workers_each_take_an_event():
    """--concurrency 2: awslambdaric forks two workers; while one sleeps on its event, the other must take
    the next, so two events answered at once come from two processes."""
    code, lines, stderr = emulate([{"sleep": 1}, {"sleep": 1}], "--concurrency", "2",
                                  "--handler", "tests/runtime_handlers/probe.handler")
    assert code == 0, stderr
    assert len({line["response"]["pid"] for line in lines}) == 2
    assert [line["response"]["requestId"] for line in lines] == [line["requestId"] for line in lines]


@pytest.mark.parametrize(("mode", "env", "marker"), [
    ("oneshot", {"BRIDGE_ARGS": "stderr-ok"}, "misbehave"),
    ("persistent", {"BRIDGE_BINARY": "tests/.bin/persist", "BRIDGE_ARGS": "lines"}, "tests/.bin/persist"),
    ("handoff", {"BRIDGE_MODE": "runtime-api", "BRIDGE_BINARY": "bin/runtime_go"}, "bin/runtime_go"),
])
def test_each_mode_under_concurrent_workers(binaries, project_binaries, mode, env, marker):
    """As Lambda Managed Instances run it: every event answered, the workers' output through the log
    socket, and nothing of the runtime left once the emulator ends."""
    environ = {"BRIDGE_BINARY": str(binaries["misbehave"]), "AWS_LAMBDA_MAX_CONCURRENCY": "2", **env}
    events = [{"n": n} for n in range(6)]
    code, lines, stderr = emulate(events, **environ)
    assert code == 0, stderr
    assert len(lines) == 6
    if mode == "oneshot":
        assert [line["response"] for line in lines] == events
        assert stderr.count("first log line") == 6  # the binary's stderr, logged by each worker, via the socket
    elif mode == "persistent":
        assert [line["response"] for line in lines] == events
    else:
        assert [line["response"]["event"] for line in lines] == events
        pids = {line["response"]["pid"] for line in lines}  # each bootstrap is in its worker's place: no restarts
        assert 1 <= len(pids) <= stderr.count("runtime_go started") <= 2
    assert processes_with(marker) == [] and processes_with("-m awslambdaric") == []
