"""``python handler.py < event.json``: exit codes, output streams, options, both JSON backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT


def run_cli(args, stdin: bytes, binaries, bridge_args="echo", **env):
    full_env = dict(os.environ, BRIDGE_BINARY=str(binaries["misbehave"]), BRIDGE_ARGS=bridge_args, **env)
    return subprocess.run(
        [sys.executable, str(ROOT / "handler.py"), *args], input=stdin, capture_output=True, env=full_env,
        cwd="/", timeout=60,
    )


@pytest.mark.parametrize("backend", ["orjson", "stdlib"])
def test_success_prints_the_response(binaries, backend):
    event = {"body": "it's \"fine\" \\ \n 日本", "n": [1, 2.5, None]}
    done = run_cli([], json.dumps(event).encode(), binaries, BRIDGE_JSON=backend)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == event


def test_error_prints_lambda_shaped_json_and_exits_1(binaries):
    done = run_cli([], b"{}", binaries, bridge_args="exit 2 json")
    assert done.returncode == 1
    error = json.loads(done.stderr.splitlines()[-1])
    assert error["errorType"] == "PaymentDeclined"
    assert error["errorMessage"] == "card 42 was declined"
    assert isinstance(error["stackTrace"], list) and error["stackTrace"]
    assert done.stdout == b""


def test_bad_json_input_exits_2(binaries):
    done = run_cli([], b'{"unclosed": ', binaries)
    assert done.returncode == 2
    assert b"not one JSON document" in done.stderr


def test_binary_option_overrides_the_environment(binaries, project_binaries):
    done = run_cli(["--binary", str(project_binaries / "hello")], b'{"a":1}', binaries)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["message"] == "Hello from C"


def test_timeout_option_sets_the_deadline(binaries):
    done = run_cli(["--timeout", "1"], b"{}", binaries, bridge_args="sleep 30", BRIDGE_TIMEOUT_MARGIN_MS="200")
    assert done.returncode == 1
    assert json.loads(done.stderr.splitlines()[-1])["errorType"] == "BinaryTimeout"


def test_binary_runs_in_the_task_root_even_from_elsewhere(binaries):
    done = run_cli([], b"{}", binaries, bridge_args="env")
    assert json.loads(done.stdout)["cwd"] == str(ROOT)


def test_help(binaries):
    done = run_cli(["--help"], b"", binaries)
    assert done.returncode == 0
    assert b"BRIDGE_" in done.stdout and b"--timeout" in done.stdout


def test_init_failure_is_a_lambda_error(binaries):
    done = run_cli(["--binary", "/nonexistent/tool"], b"{}", binaries)
    assert done.returncode == 1
    assert json.loads(done.stderr.splitlines()[-1])["errorType"] == "BinaryNotFound"
