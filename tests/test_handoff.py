"""Runtime-api handoff: the real awslambdaric imports the handler through the emulator, and the bridge execs
the bootstrap in its place, which then answers the emulator's Runtime API itself."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, emulate, invoke, like_a_supervisor, settings_environ

FD_BOOTSTRAP = ROOT / "tests" / "runtime_handlers" / "fd_bootstrap"
RAW_BOOTSTRAP = ROOT / "tests" / "runtime_handlers" / "raw_bootstrap"
# binary, the errorType it posts for the event "fail", where its answer holds the event
RUNTIMES = {
    "go": ("bin/runtime_go", "Go.RequestedFailure", "event"),
    "crystal": ("bin/runtime_hello", "Crystal.RequestedFailure", "event"),
    "shell": ("bin/runtime_shell", "Shell.RequestedFailure", "echo"),
}


def emulate_handoff(events: list, task_root=ROOT, **env: str) -> tuple[int, list[dict], str]:
    return emulate(events, "--task-root", str(task_root), BRIDGE_MODE="runtime-api", **env)


@pytest.mark.parametrize("name", sorted(RUNTIMES))
def test_each_example_runtime_answers_and_posts_its_own_errors(project_binaries, name):
    binary, error_type, key = RUNTIMES[name]
    code, lines, _ = emulate_handoff([{"n": 1}, "fail", {"n": 2}], BRIDGE_BINARY=binary)
    assert code == 1  # one event failed
    assert lines[0]["response"][key] == {"n": 1} and lines[2]["response"][key] == {"n": 2}
    assert lines[1]["error"]["errorType"] == error_type  # posted by the runtime itself, as on provided.al2023
    assert len({line["runtimePid"] for line in lines}) == 1  # one process served them all


def test_the_process_is_the_runtime_and_the_headers_reach_it(project_binaries):
    code, lines, _ = emulate_handoff([{"k": 1}], BRIDGE_BINARY="bin/runtime_go", BRIDGE_HANDLER="main.handle")
    seen = lines[0]["response"]
    assert code == 0
    assert seen["pid"] == lines[0]["runtimePid"]  # the pid the emulator started: awslambdaric became the bootstrap
    assert seen["requestId"] == lines[0]["requestId"] and seen["handler"] == "main.handle"
    assert seen["functionArn"].endswith(":function:exec-bridge-emulated") and seen["traceId"].startswith("Root=")


def test_nothing_of_the_bridge_stays_open_in_the_bootstrap():
    code, lines, _ = emulate_handoff([{}], BRIDGE_BINARY=str(FD_BOOTSTRAP), BRIDGE_HANDLER="fn.handle")
    seen = lines[0]["response"]
    assert code == 0 and seen["pid"] == lines[0]["runtimePid"]
    assert sorted(seen["fds"]) == ["0", "1", "2"] and seen["fds"]["0"] == "/dev/null" and seen["stdin"] == ""
    assert seen["handler"] == "fn.handle"


def test_the_bootstrap_starts_with_every_signal_at_its_default(binaries):
    """The interpreter ignores SIGPIPE and SIGXFSZ, its own starter may ignore or block more: the exec
    leaves the bootstrap none of it."""
    script = "from bridge import handoff; handoff.hand_over('.')"
    environ = settings_environ(BRIDGE_BINARY=str(binaries["hostile"]), BRIDGE_ARGS="signals")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, cwd=ROOT, env=environ, timeout=60,
                          preexec_fn=like_a_supervisor)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"ignored": "0000000000000000", "blocked": "0000000000000000"}


@pytest.mark.parametrize("runtime_api", ["handoff", "proxy"])
def test_a_body_that_is_not_json_reaches_the_invoker_exactly(runtime_api):
    """Handoff: the bootstrap posts to the runtime API itself. Proxy: the handler returns the bytes, which
    awslambdaric posts as they are. Either way the invoker gets the very bytes, as on provided.al2023."""
    body = b"\xff\xfe raw \x00 bytes\r\n"
    code, lines, _ = emulate_handoff([{"base64": base64.b64encode(body).decode()}], BRIDGE_BINARY=str(RAW_BOOTSTRAP),
                             BRIDGE_RUNTIME_API=runtime_api)
    assert code == 0 and base64.b64decode(lines[0]["responseBase64"]) == body


def test_proxy_keeps_the_interpreter(project_binaries):
    code, lines, _ = emulate_handoff([{"k": 1}], BRIDGE_BINARY="bin/runtime_go", BRIDGE_RUNTIME_API="proxy")
    assert code == 0 and lines[0]["response"]["pid"] != lines[0]["runtimePid"]


def task_root(tmp_path, binary_source, mode: int):
    task = tmp_path / "task"
    (task / "bin").mkdir(parents=True)
    (task / "handler.py").symlink_to(ROOT / "handler.py")
    (task / "bridge").symlink_to(ROOT / "bridge")
    if binary_source is not None:
        shutil.copy(binary_source, task / "bin" / "runtime")
        (task / "bin" / "runtime").chmod(mode)
    return task


def test_a_bootstrap_without_its_exec_bit_runs_from_its_tmp_copy(project_binaries, tmp_path):
    task = task_root(tmp_path, project_binaries / "runtime_go", 0o644)
    code, lines, err = emulate_handoff([{"k": 1}], task_root=task, BRIDGE_BINARY="bin/runtime", TMPDIR=str(tmp_path))
    assert code == 0 and lines[0]["response"]["event"] == {"k": 1}
    assert lines[0]["response"]["pid"] == lines[0]["runtimePid"]
    assert "is not executable" in err and list(tmp_path.glob("exec-bridge-*/runtime-*"))


@pytest.mark.parametrize("setup, error_type", [("missing", "BinaryNotFound"), ("not-elf", "BinaryFormatError")])
def test_errors_before_the_exec_are_init_errors(tmp_path, setup, error_type):
    task = task_root(tmp_path, None, 0o755)
    if setup == "not-elf":
        (task / "bin" / "runtime").write_bytes(b"MZ\x90\x00 not an executable for this machine")
        (task / "bin" / "runtime").chmod(0o755)
    code, lines, _ = emulate_handoff([{}], task_root=task, BRIDGE_BINARY="bin/runtime")
    assert code == 1 and lines[0]["initError"]["errorType"] == error_type


def test_without_a_runtime_client_it_proxies_and_says_so(make_bridge, project_binaries, capfd):
    bridge = make_bridge("", binary=project_binaries / "runtime_go", mode="runtime-api")
    assert invoke(bridge, {"k": 3})["event"] == {"k": 3}
    assert "no runtime client imported the handler" in capfd.readouterr().err
