"""``python handler.py < event.json``: exit codes, output streams, options, both JSON backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, run_cli


def run_misbehave(args, stdin: bytes, binaries, bridge_args="echo", **env):
    """The CLI over tests/.bin/misbehave, run from / (the task root is where handler.py is, not the cwd)."""
    return run_cli(stdin, *args, cwd=Path("/"), BRIDGE_BINARY=str(binaries["misbehave"]), BRIDGE_ARGS=bridge_args,
                   **env)


@pytest.mark.parametrize("backend", ["orjson", "stdlib"])
def test_success_prints_the_response(binaries, backend):
    event = {"body": "it's \"fine\" \\ \n 日本", "n": [1, 2.5, None]}
    done = run_misbehave([], json.dumps(event).encode(), binaries, BRIDGE_JSON=backend)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == event


def test_error_prints_lambda_shaped_json_and_exits_1(binaries):
    done = run_misbehave([], b"{}", binaries, bridge_args="exit 2 json")
    assert done.returncode == 1
    error = json.loads(done.stderr.splitlines()[-1])
    assert error["errorType"] == "PaymentDeclined"
    assert error["errorMessage"] == "card 42 was declined"
    assert isinstance(error["stackTrace"], list) and error["stackTrace"]
    assert done.stdout == b""


def test_bad_json_input_exits_2(binaries):
    done = run_misbehave([], b'{"unclosed": ', binaries)
    assert done.returncode == 2
    assert b"not one JSON document" in done.stderr


def test_binary_option_overrides_the_environment(binaries, project_binaries):
    done = run_misbehave(["--binary", str(project_binaries / "hello")], b'{"a":1}', binaries)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["message"] == "Hello from C"


def test_timeout_option_sets_the_deadline(binaries):
    done = run_misbehave(["--timeout", "1"], b"{}", binaries, bridge_args="sleep 30", BRIDGE_TIMEOUT_MARGIN_MS="200")
    assert done.returncode == 1
    assert json.loads(done.stderr.splitlines()[-1])["errorType"] == "BinaryTimeout"


def test_binary_runs_in_the_task_root_even_from_elsewhere(binaries):
    done = run_misbehave([], b"{}", binaries, bridge_args="env")
    assert json.loads(done.stdout)["cwd"] == str(ROOT)


def test_help(binaries):
    done = run_misbehave(["--help"], b"", binaries)
    assert done.returncode == 0
    assert b"BRIDGE_" in done.stdout and b"--timeout" in done.stdout


def test_init_failure_is_a_lambda_error(binaries):
    done = run_misbehave(["--binary", "/nonexistent/tool"], b"{}", binaries)
    assert done.returncode == 1
    assert json.loads(done.stderr.splitlines()[-1])["errorType"] == "BinaryNotFound"
