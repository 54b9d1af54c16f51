"""Lambda in a box: the function under Lambda's own constraints, in a podman container (the emulator's
``--sandbox``): a read-only root with only /tmp writable, uid 993, a memory limit with no swap, frozen between
invocations. Each case runs with the zip (unzipped read-only at /var/task on the Lambda base) and with the
container image (Dockerfile, with jq installed into it by apt-get), both made by ./build.sh image."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time

import pytest
from conftest import ROOT, emulate, sample_event, settings_environ

TAG = "localhost/exec-bridge-test:latest"
PODMAN = ["podman", "--runtime", "runc"]


@pytest.fixture(scope="module")
def boxes(tmp_path_factory, project_binaries, binaries):
    """{"zip": emulator arguments for the zip on the Lambda base, "image": those for the image}."""
    work = tmp_path_factory.mktemp("box")
    bin_dir = work / "bin"
    shutil.copytree(ROOT / "bin", bin_dir, copy_function=shutil.copy2)  # mtimes kept: nothing is rebuilt
    for name in ("persist", "misbehave"):
        shutil.copy2(binaries[name], bin_dir / name)
    shutil.copy2(ROOT / "tests" / "cgi" / "env_dump.py", bin_dir / "env_dump.py")
    context = work / "context"
    done = subprocess.run([str(ROOT / "build.sh"), "image", "lambda", "jq"], capture_output=True, text=True,
                          env=settings_environ(BIN=str(bin_dir), IMAGE_CONTEXT=str(context), IMAGE_TAG=TAG),
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    task = work / "task"
    shutil.copytree(context / "task", task)
    (task / "empty.py").write_text("def handler(event, context):\n    return event\n")  # the floor, side by side
    for path in [task, *task.rglob("*")]:
        path.chmod((path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0)) & ~0o222)
    yield {"zip": ["--sandbox", "--task-root", str(task)], "image": ["--image", TAG]}
    for path in [task, *task.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    subprocess.run([*PODMAN, "rmi", "--force", TAG], capture_output=True)


def in_box(boxes, where: str, events: list, *args: str, **settings: str) -> tuple[int, list[dict], str]:
    return emulate(events, *boxes[where], "--memory-mb", "128", *args, **settings)


BOTH = pytest.mark.parametrize("where", ["zip", "image"])


@BOTH
def test_oneshot_runs_as_a_non_root_user_on_a_read_only_root(boxes, where):
    code, lines, stderr = in_box(boxes, where, [{"a": 1}], BRIDGE_BINARY="bin/hello")
    assert code == 0, stderr
    assert lines[0]["response"]["message"] == "Hello from C"
    script = "-c 'id -u; id -g; touch /var/task/x 2>&1 || true; touch /tmp/x && echo tmp'"
    code, lines, stderr = in_box(boxes, where, [{}], BRIDGE_BINARY="/bin/sh", BRIDGE_OUTPUT="text", BRIDGE_ARGS=script)
    assert code == 0, stderr
    assert lines[0]["response"].split("\n")[:2] == ["993", "990"]
    assert "Read-only file system" in lines[0]["response"] and lines[0]["response"].endswith("tmp\n")


@BOTH
def test_a_binary_that_writes_outside_tmp_fails_typed_and_the_next_call_works(boxes, where):
    script = "-c 'read line; case $line in *write*) echo x > /var/task/out;; *) echo \"{\\\"ok\\\":1}\";; esac'"
    code, lines, _ = in_box(boxes, where, ["write", "fine"], BRIDGE_BINARY="/bin/sh", BRIDGE_ARGS=script)
    assert code == 1
    assert lines[0]["error"]["errorType"] == "BinaryExitError"
    assert "Read-only file system" in lines[0]["error"]["errorMessage"]
    assert lines[1]["response"] == {"ok": 1}


@BOTH
def test_a_persistent_binary_keeps_its_state_across_freeze_and_thaw(boxes, where):
    started = time.time()
    code, lines, stderr = in_box(boxes, where, [{"pid": n} for n in range(3)], BRIDGE_MODE="persistent",
                                 BRIDGE_BINARY="bin/persist", BRIDGE_ARGS="lines")
    assert code == 0, stderr
    assert len({line["response"]["pid"] for line in lines}) == 1  # one process served all three
    assert pauses_since(started) >= 3  # frozen after each response, thawed for the next event


def pauses_since(started: float) -> int:
    done = subprocess.run([*PODMAN, "events", "--stream=false", "--since", str(int(started) - 1), "--filter",
                           "event=pause", "--format", "{{.Name}}"], capture_output=True, text=True, timeout=30)
    return sum(name.startswith("exec-bridge-box-") for name in done.stdout.split())


@BOTH
@pytest.mark.parametrize("runtime_api", ["handoff", "proxy"])
def test_a_custom_runtime(boxes, where, runtime_api):
    code, lines, stderr = in_box(boxes, where, [{"k": 1}, "fail"], BRIDGE_MODE="runtime-api",
                                 BRIDGE_BINARY="bin/runtime_go", BRIDGE_RUNTIME_API=runtime_api)
    assert code == 1, stderr  # the second posts a typed error
    assert lines[0]["response"]["event"] == {"k": 1}
    assert lines[1]["error"]["errorType"] == "Go.RequestedFailure"


@BOTH
def test_a_runtime_that_outlives_its_call_is_stopped(boxes, where):
    code, lines, stderr = in_box(boxes, where, ["sleep", {"k": 2}], "--timeout", "3", BRIDGE_MODE="runtime-api",
                                 BRIDGE_BINARY="bin/runtime_go", BRIDGE_RUNTIME_API="proxy",
                                 BRIDGE_TIMEOUT_MARGIN_MS="500")
    assert code == 1, stderr
    assert lines[0]["error"]["errorType"] == "BinaryTimeout"
    assert lines[1]["response"]["event"] == {"k": 2}  # a new runtime: the old one was killed and reaped


@BOTH
def test_a_cgi_program(boxes, where):
    event = sample_event("api_gateway_v2")
    code, lines, stderr = in_box(boxes, where, [event], BRIDGE_MODE="cgi", BRIDGE_BINARY="bin/env_dump.py")
    assert code == 0, stderr
    response = lines[0]["response"]
    assert response["statusCode"] == 200 and json.loads(response["body"])["env"]["REQUEST_METHOD"] == "POST"


@BOTH
def test_the_sqs_worker_reports_a_partial_batch_failure(boxes, where):
    event = sample_event("sqs")
    event["Records"][1]["body"] = '{"orderId": 1001, "item": "poison"}'
    code, lines, stderr = in_box(boxes, where, [event], BRIDGE_BINARY="bin/sqs_worker", BRIDGE_BATCH="records",
                                 BRIDGE_STDIN="body")
    assert code == 0, stderr
    assert lines[0]["response"] == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}


def test_a_legacy_program_installed_into_the_image_by_apt_get(boxes):
    code, lines, stderr = in_box(boxes, "image", [{"a": [1, "two"]}], BRIDGE_BINARY="/usr/bin/jq",
                                 BRIDGE_ARGS="-c .a")
    assert code == 0, stderr
    assert lines[0]["response"] == [1, "two"]


PAYLOAD = 5_900_000  # within Lambda's 6 MB response once a mode's own framing is added
MODES = {
    "empty Python handler": {"BRIDGE_BINARY": "bin/hello"},  # with --handler empty.handler
    "oneshot": {"BRIDGE_BINARY": "bin/misbehave", "BRIDGE_ARGS": "echo"},
    "persistent": {"BRIDGE_BINARY": "bin/persist", "BRIDGE_ARGS": "lines", "BRIDGE_MODE": "persistent"},
    "runtime-api handoff": {"BRIDGE_BINARY": "bin/runtime_go", "BRIDGE_MODE": "runtime-api"},
    "runtime-api proxy": {"BRIDGE_BINARY": "bin/runtime_go", "BRIDGE_MODE": "runtime-api",
                          "BRIDGE_RUNTIME_API": "proxy"},
}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_mode_serves_6_mb_in_and_out_at_128_mb(boxes, mode):
    event = {"data": base64.b64encode(os.urandom(PAYLOAD * 3 // 4)).decode()}
    handler = ["--handler", "empty.handler"] if mode.startswith("empty") else []
    code, lines, stderr = in_box(boxes, "zip", [event, event], *handler, **MODES[mode])
    assert code == 0, stderr[-2000:]
    for line in lines:
        answer = line["response"]
        assert (answer.get("event") or answer) == event
    peak = re.search(r"sandbox: peak memory ([\d.]+) MiB of the 128 MiB limit", stderr)
    assert peak is not None and float(peak.group(1)) < 128


def test_the_debian_dockerfile_runs_the_function_with_awslambdaric_as_its_entry_point(boxes, tmp_path):
    tag = "localhost/exec-bridge-test:debian"
    done = subprocess.run([str(ROOT / "build.sh"), "image", "debian"], capture_output=True, text=True, timeout=900,
                          env=settings_environ(IMAGE_CONTEXT=str(tmp_path / "context"), IMAGE_TAG=tag))
    assert done.returncode == 0, done.stderr[-3000:]
    try:
        entry = subprocess.run([*PODMAN, "image", "inspect", "--format", "{{.Config.Entrypoint}} {{.Config.Cmd}}",
                                tag], capture_output=True, text=True, timeout=60).stdout
        assert entry.strip() == "[python3 -m awslambdaric] [handler.handler]"
        code, lines, stderr = emulate([{"a": 1}], "--image", tag, BRIDGE_BINARY="bin/hello")
        assert code == 0, stderr
        assert lines[0]["response"]["message"] == "Hello from C"
    finally:
        subprocess.run([*PODMAN, "rmi", "--force", tag], capture_output=True)
