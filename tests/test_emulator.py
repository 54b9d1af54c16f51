"""End to end: the real AWS Python runtime client (awslambdaric) runs handler.handler against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT


def emulate(events: list, *args: str, **env: str) -> tuple[int, list[dict], str]:
    stdin = "\n".join(json.dumps(event) for event in events).encode()
    done = subprocess.run(
        [sys.executable, "-m", "bridge.emulator", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        env=dict(os.environ, **env),
    )
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()], done.stderr.decode()


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
