"""Oneshot mode against real misbehaving binaries through real pipes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest
from conftest import ROOT, invoke, processes_with, settings_environ

from bridge import errors, process
from bridge.context import LocalContext

TRICKY = [
    "it's a \"quoted\" string with `backticks` and $(echo injected) and $HOME; rm -rf / | cat & echo",
    "back\\slashes \\n \\\\ and a real\nnewline and a tab\t and \\x00",
    "NUL-escaped: \u0000 and control \u0001\u001f",
    "non-ASCII: café, Straße, 日本語, emoji 🦀, RTL \u202e",
    "'\"'\"'",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_text_round_trips_exactly(make_bridge, text):
    event = {"body": text, "nested": [text, {text: text}]}
    assert invoke(make_bridge("echo"), event) == event


def test_events_orjson_refuses_fall_back(make_bridge):
    """A lone surrogate (valid in a Python str, refused by orjson) and an integer past 64 bits."""
    event = {"text": "half a pair: \ud800", "big": 2**70}
    assert invoke(make_bridge("echo"), event) == event


@pytest.mark.parametrize("event", [[1, "two", None], "just a string", 42, 3.5, None, True, {}])
def test_events_of_every_json_type(make_bridge, event):
    assert invoke(make_bridge("echo"), event) == event


@pytest.mark.parametrize("size", [1024, 1024 * 1024, 6 * 1024 * 1024 - 100])
def test_large_events_echo_back(make_bridge, size):
    """6 MB through a ~64 KB pipe each way: only a concurrent feed-and-drain loop survives this."""
    event = {"body": "x" * size}
    assert invoke(make_bridge("echo"), event) == event


def test_stdout_in_many_small_writes(make_bridge):
    event = {"data": list(range(20000))}
    assert invoke(make_bridge("split"), event) == event


def test_binary_that_never_reads_stdin(make_bridge):
    """The child exits without reading a 6 MB event: EPIPE on our side is not a failure."""
    assert invoke(make_bridge("no-read"), {"body": "y" * (6 * 1024 * 1024)}) == {"ok": True}


def test_stderr_on_success_is_logged_with_the_request_id(make_bridge, capfd):
    bridge = make_bridge("stderr-ok")
    from bridge.context import LocalContext

    context = LocalContext()
    assert bridge.invoke({"a": 1}, context) == {"a": 1}
    log = capfd.readouterr().err
    record = rf"^\[INFO\]\t\S+Z\t{context.aws_request_id}\t"  # Lambda's text format, as the runtime writes it
    assert re.search(record + "first log line$", log, re.MULTILINE)
    assert re.search(record + "second log line$", log, re.MULTILINE)
    assert re.search(record + "third, no newline$", log, re.MULTILINE)  # a partial last line is flushed, not lost


def test_megabyte_of_stderr_while_echoing_does_not_deadlock(make_bridge, capfd):
    event = {"body": "z" * (2 * 1024 * 1024)}
    assert invoke(make_bridge("stderr-flood 1048576"), event) == event
    assert capfd.readouterr().err.count("eeee\n") >= 2 * 1048576 // 100


@pytest.mark.parametrize(("args", "error", "says"), [
    ("exit 3", errors.BinaryExitError, ("status 3", "something went wrong")),
    ("segv", errors.BinarySignalError, ("SIGSEGV", "about to crash")),
], ids=["exit status", "signal"])
def test_a_failed_run_names_how_it_ended_and_carries_the_stderr_tail(make_bridge, args, error, says):
    with pytest.raises(error) as caught:
        invoke(make_bridge(args), {})
    assert all(part in str(caught.value) for part in says)


def test_json_error_line_sets_the_error_type(make_bridge):
    with pytest.raises(errors.BinaryError) as caught:
        invoke(make_bridge("exit 2 json"), {})
    assert type(caught.value).__name__ == "PaymentDeclined"
    assert str(caught.value) == "card 42 was declined"


def test_deadline_kills_the_whole_process_group(make_bridge):
    marker = f"deadline-{os.getpid()}-{time.monotonic_ns()}"
    bridge = make_bridge(f"sleep 30 {marker}", timeout_margin_ms="500")
    started = time.monotonic()
    with pytest.raises(errors.BinaryTimeout) as caught:
        invoke(bridge, {}, timeout=1.5)
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 1.5 + 1.0  # killed at deadline minus margin, reported well inside the limit
    assert "ran for" in str(caught.value) and "going to sleep" in str(caught.value)
    assert processes_with(marker) == []


def test_no_time_left_fails_before_spawning(make_bridge, tmp_path):
    ran = tmp_path / "ran"
    bridge = make_bridge(f"-c 'touch {ran}; echo null'", binary="/bin/sh", timeout_margin_ms="2000")
    with pytest.raises(errors.BinaryTimeout):
        invoke(bridge, {}, timeout=1.0)
    assert not ran.exists()  # never started
    invoke(bridge, {}, timeout=10.0)
    assert ran.exists()  # the control: given the time, it runs


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "no-pidfd"])
def test_grandchild_holding_stdout_does_not_hang_the_call(make_bridge, monkeypatch, pidfd):
    if not pidfd:
        monkeypatch.setattr(process, "_open_pidfd", lambda pid: None)
    marker = f"grandchild-{os.getpid()}-{time.monotonic_ns()}"
    started = time.monotonic()
    assert invoke(make_bridge(f"grandchild {marker}"), {}) == {"parent": "done"}
    assert time.monotonic() - started < 10.0  # the grandchild holds stdout for 60 s: a hang would take that
    assert processes_with(marker) == []  # the grandchild was killed with the group


def test_timeout_without_pidfd(make_bridge, monkeypatch):
    monkeypatch.setattr(process, "_open_pidfd", lambda pid: None)
    with pytest.raises(errors.BinaryTimeout):
        invoke(make_bridge("sleep 30", timeout_margin_ms="500"), {}, timeout=1.0)


def test_endless_output_is_stopped_at_the_cap(make_bridge):
    with pytest.raises(errors.OutputTooLarge) as caught:
        invoke(make_bridge("endless", max_output_bytes="1000000"), {})
    assert "BRIDGE_MAX_OUTPUT_BYTES=1000000" in str(caught.value)


def test_endless_output_memory_stays_bounded(binaries):
    """In a process of its own, which reports its own high-water mark (VmHWM: unlike ru_maxrss it
    does not inherit this test process's): the cap bounds memory, not the deadline."""
    env = settings_environ(BRIDGE_BINARY=str(binaries["misbehave"]), BRIDGE_ARGS="endless")
    report = ("import atexit, sys, runpy; atexit.register(lambda: sys.stderr.write(next(l for l in "
              "open('/proc/self/status') if l.startswith('VmHWM')))); "
              f"sys.argv = ['handler.py', '--timeout', '20']; runpy.run_path({str(ROOT / 'handler.py')!r}, "
              "run_name='__main__')")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", report], input=b"{}", capture_output=True, env=env, timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 1
    assert b'"errorType":"OutputTooLarge"' in done.stderr
    assert elapsed < 10  # stopped at 6 MB, not at the 20 s deadline
    peak_kib = int(done.stderr.splitlines()[-1].split()[1])
    assert peak_kib < 100 * 1024  # tens of MB, not the gigabytes endless output would fill


def test_invalid_json_output(make_bridge):
    with pytest.raises(errors.InvalidOutput) as caught:
        invoke(make_bridge("invalid"), {})
    assert "this is not JSON" in str(caught.value)


def test_text_output_mode_returns_the_string(make_bridge):
    assert invoke(make_bridge("invalid", output="text"), {}) == "this is not JSON {"


def test_empty_output_is_none(make_bridge):
    assert invoke(make_bridge("empty"), {"a": 1}) is None


def test_stderr_is_error_legacy_mode(make_bridge):
    with pytest.raises(errors.BinaryStderrError) as caught:
        invoke(make_bridge("stderr-ok", stderr_is_error="1"), {"a": 1})
    assert "first log line" in str(caught.value)


def test_invocation_environment(make_bridge, monkeypatch):
    monkeypatch.setenv("FUNCTION_SETTING", "kept")
    bridge = make_bridge('env "an argument with spaces"')
    from bridge.context import LocalContext

    context = LocalContext(timeout_s=12)
    first = bridge.invoke({"k": "v"}, context)
    second = invoke(bridge, {})
    assert first["LAMBDA_REQUEST_ID"] == context.aws_request_id
    assert first["LAMBDA_FUNCTION_ARN"] == context.invoked_function_arn
    assert abs(int(first["LAMBDA_DEADLINE_MS"]) - (time.time() * 1000 + 12000)) < 2000
    assert first["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert first["_X_AMZN_TRACE_ID"] != second["_X_AMZN_TRACE_ID"]
    assert first["FUNCTION_SETTING"] == "kept"
    assert first["cwd"] == str(ROOT)
    assert first["argc"] == 3 and first["stdinBytes"] == len(b'{"k":"v"}')
    assert first["TMPDIR"] and first["HOME"]
    import json

    described = json.loads(first["LAMBDA_INVOCATION_CONTEXT"])
    assert described["requestId"] == context.aws_request_id
    assert described["functionName"] == context.function_name
    assert described["logGroupName"] == context.log_group_name
    assert described["deadlineMs"] == int(first["LAMBDA_DEADLINE_MS"])


def test_unwritable_home_points_into_tmp(make_bridge, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", "/nonexistent-home")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    result = invoke(make_bridge("env"), {})
    assert result["HOME"] == str(tmp_path) and result["TMPDIR"] == str(tmp_path)


def test_every_process_is_reaped_and_no_fd_leaks(make_bridge):
    bridge = make_bridge("echo")
    invoke(bridge, {})
    fds_before = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        invoke(bridge, {"n": 1})
    for mode in ("segv", "exit 1", "invalid"):
        with pytest.raises((errors.BinarySignalError, errors.BinaryExitError, errors.InvalidOutput)):
            invoke(make_bridge(mode), {})
    assert len(os.listdir("/proc/self/fd")) == fds_before
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no child left to reap: all were waited for


def test_the_tenant_of_a_call_reaches_the_binary(make_bridge):
    bridge = make_bridge("env")
    context = LocalContext()
    context.tenant_id = "tenant-5"
    seen = bridge.invoke({}, context)
    assert seen["LAMBDA_TENANT_ID"] == "tenant-5"
    assert json.loads(seen["LAMBDA_INVOCATION_CONTEXT"])["tenantId"] == "tenant-5"
    without = invoke(bridge, {})  # no tenant isolation: no variable, and null in the context
    assert without["LAMBDA_TENANT_ID"] is None
    assert json.loads(without["LAMBDA_INVOCATION_CONTEXT"])["tenantId"] is None
