"""The bridge against hostile binaries, events and configuration: nothing corrupted, nothing crashes,
nothing outlives its call. Every binary here is tests/binaries/hostile.c (or misbehave.c), run for real."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from conftest import ROOT, invoke, like_a_supervisor, run_cli, settings_environ

from bridge import codec, errors, logs
from bridge.bridge import Bridge
from bridge.config import Config
from bridge.context import LocalContext

HUGE = 2**70
GLIBC_INTERNAL_SIGNALS = 1 << 31 | 1 << 32  # SigIgn's bits for signals 32 and 33


def hostile(make_bridge, binaries, args: str, **settings: str) -> Bridge:
    return make_bridge(args, binary=binaries["hostile"], **settings)


def cli(binary: Path, args: str, event: bytes = b"{}", *options: str, **env: str) -> subprocess.CompletedProcess:
    """The CLI in a fresh interpreter (so BRIDGE_JSON=stdlib really is the stdlib) over ``binary``."""
    return run_cli(event, *options, BRIDGE_BINARY=str(binary), BRIDGE_ARGS=args, **env)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


# 1. JSON fidelity, with orjson (in process) and the standard library (BRIDGE_JSON=stdlib, in a CLI run).

@pytest.mark.parametrize("backend", ["orjson", "stdlib"])
def test_integers_past_64_bits_come_back_exactly(binaries, make_bridge, backend):
    text = json.dumps({"big": HUGE, "negative": -(2**63) - 1, "u64": 2**64 - 1, "list": [10**30, -(10**40)]})
    expected = json.loads(text)
    if backend == "orjson":
        codec._backend()  # as after the crossover
        assert invoke(hostile(make_bridge, binaries, f"print '{text}'"), {}) == expected
    else:
        done = cli(binaries["hostile"], f"print '{text}'", BRIDGE_JSON="stdlib")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == expected and isinstance(json.loads(done.stdout)["big"], int)


@pytest.mark.parametrize("backend", ["orjson", "stdlib"])
@pytest.mark.parametrize("text", ['{"x":NaN}', "[Infinity]", "-Infinity", "[1e400]", '{"y":-1E999}'])
def test_non_finite_numbers_in_output_are_invalid_output(binaries, make_bridge, backend, text):
    if backend == "orjson":
        codec._backend()
        with pytest.raises(errors.InvalidOutput):
            invoke(hostile(make_bridge, binaries, f"print '{text}'"), {})
    else:
        done = cli(binaries["hostile"], f"print '{text}'", BRIDGE_JSON="stdlib")
        assert done.returncode == 1 and json.loads(done.stderr)["errorType"] == "InvalidOutput"


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("backend", ["orjson", "stdlib"])
def test_output_nested_beyond_any_parser_is_invalid_output(binaries, make_bridge, backend):
    if backend == "orjson":
        codec._backend()
        bridge = hostile(make_bridge, binaries, "nested 100000")
        with pytest.raises(errors.InvalidOutput):
            invoke(bridge, {})
        assert invoke(hostile(make_bridge, binaries, "nested 500"), {}) == nested(500)  # deep, yet exact
    else:
        done = cli(binaries["hostile"], "nested 100000", BRIDGE_JSON="stdlib")
        assert done.returncode == 1 and json.loads(done.stderr)["errorType"] == "InvalidOutput"


@pytest.mark.parametrize("event", [nested(100000), {"x": float("nan")}, [float("inf")]],
                         ids=["nested", "nan", "infinity"])
def test_events_with_no_exact_json_are_refused_typed(binaries, make_bridge, event):
    with pytest.raises(errors.InvalidEvent):
        invoke(make_bridge("echo"), event)


@pytest.mark.parametrize("stdin", [b"[" * 100000 + b"]" * 100000, b'{"x":NaN}', b"[1e400]"],
                         ids=["deep", "nan", "huge-exponent"])
def test_cli_refuses_input_with_no_exact_json_as_usage(binaries, stdin):
    done = cli(binaries["misbehave"], "echo", stdin)
    assert done.returncode == 2 and b"Traceback" not in done.stderr
    assert b"not one JSON document" in done.stderr


# 2. Any errorType and errorMessage becomes a Lambda error without crashing.

@pytest.mark.parametrize("written, expected", [
    ("Payment.Declined / café", "Payment.Declined / café"),  # verbatim: dots, spaces, non-ASCII
    ("\\ud800Broken", "\ufffdBroken"),  # a lone surrogate: UTF-8 cannot carry it
    ("Nul\\u0000Byte", "NulByte"),  # type() refuses NUL
    ("\\u0000", "BinaryError"),
])
def test_any_error_type_becomes_a_lambda_error(binaries, make_bridge, written, expected):
    with pytest.raises(errors.BinaryError) as caught:
        invoke(hostile(make_bridge, binaries, f"error-type '{written}'"), {})
    assert type(caught.value).__name__ == expected and str(caught.value) == "typed"


def test_a_surrogate_error_type_reaches_awslambdaric_intact(binaries):
    done = subprocess.run([sys.executable, "-m", "bridge.emulator"], input=b"{}", capture_output=True, cwd=ROOT,
                          timeout=120, env=settings_environ(BRIDGE_BINARY=str(binaries["hostile"]),
                                                BRIDGE_ARGS="error-type '\\ud800Broken'",
                                                AWS_EXECUTION_ENV="AWS_Lambda_python3.12"))
    error = json.loads(done.stdout)["error"]
    assert error["errorType"] == "\ufffdBroken" and error["errorMessage"] == "typed"


def test_error_lines_of_256_kib_and_more_keep_their_type(binaries, make_bridge):
    with pytest.raises(errors.BinaryError) as caught:
        invoke(hostile(make_bridge, binaries, "long-error 300000"), {})
    assert type(caught.value).__name__ == "VeryLongError" and str(caught.value) == "m" * 300000


# 3. Nothing outlives its call.

@pytest.mark.parametrize("how", ["setsid", "setpgid", "daemon"])
def test_descendants_that_leave_the_process_group_die_with_the_call(binaries, make_bridge, tmp_path, how):
    pidfile = tmp_path / "escaped.pid"
    assert invoke(hostile(make_bridge, binaries, f"escape {how} {pidfile}"), {}) == {}
    pid = int(pidfile.read_text())
    assert not alive(pid), f"pid {pid} ({how}) outlived the call"


def test_descendants_of_a_long_lived_binary_die_with_it(binaries, make_bridge, tmp_path):
    pidfile = tmp_path / "escaped.pid"
    bridge = hostile(make_bridge, binaries, f"persist escape {pidfile}", mode="persistent")
    assert invoke(bridge, {"n": 1}) == {"n": 1}
    pid = int(pidfile.read_text())
    assert alive(pid)  # while its binary lives, it is the binary's business
    bridge.close()
    assert not alive(pid)


def test_a_long_lived_binary_that_ignores_eof_and_sigterm_stops_with_the_interpreter(binaries):
    script = textwrap.dedent(f"""
        from bridge.bridge import Bridge
        from bridge.config import Config
        from bridge.context import LocalContext
        bridge = Bridge(Config.from_environ(".", {{"BRIDGE_BINARY": "{binaries['hostile']}",
                        "BRIDGE_ARGS": "persist ignore-eof", "BRIDGE_MODE": "persistent"}}))
        assert bridge.invoke({{"n": 1}}, LocalContext()) == {{"n": 1}}
        print(bridge.mode.child.pid, flush=True)
    """)  # and exits without closing the bridge
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout)
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)


def test_binaries_start_with_every_signal_at_its_default(binaries):
    """Ignored and blocked signals survive exec; a binary must not inherit the bridge's, or an orderly
    SIGTERM cannot stop it (and a shell cannot even trap a signal ignored when it started)."""
    environ = settings_environ(BRIDGE_BINARY=str(binaries["hostile"]), BRIDGE_ARGS="signals")
    done = subprocess.run([sys.executable, "handler.py"], input=b"{}", capture_output=True, cwd=ROOT, env=environ,
                          timeout=60, preexec_fn=like_a_supervisor)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert int(seen["blocked"], 16) == 0
    # glibc's posix_spawn leaves its own two internal signals (32 and 33, which no program may use and
    # Python cannot name) ignored; every signal a program can use is at its default.
    assert int(seen["ignored"], 16) & ~GLIBC_INTERNAL_SIGNALS == 0


# 4. Persistent mode replaces a binary that exits between calls or right after replying.

@pytest.mark.parametrize("how", ["exit-after-reply", "close-then-exit"])
def test_binaries_that_exit_after_each_reply_are_replaced(binaries, make_bridge, capfd, how):
    bridge = hostile(make_bridge, binaries, f"persist {how}", mode="persistent")
    for n in range(25):
        assert invoke(bridge, {"n": n}) == {"n": n}
    assert "restarting it" in capfd.readouterr().err


# 5. BRIDGE_MAX_OUTPUT_BYTES is the reply's bytes, framing excluded, in every mode.

def test_a_reply_of_exactly_the_cap_passes_and_one_byte_more_fails(binaries, make_bridge):
    assert invoke(hostile(make_bridge, binaries, "reply-bytes 1000", max_output_bytes="1000"), {}) == "r" * 998
    with pytest.raises(errors.OutputTooLarge):
        invoke(hostile(make_bridge, binaries, "reply-bytes 1001", max_output_bytes="1000"), {})


def test_lines_framing_does_not_count_the_newline(binaries, make_bridge):
    bridge = hostile(make_bridge, binaries, "persist echo", mode="persistent", max_output_bytes="1000")
    assert invoke(bridge, "r" * 998) == "r" * 998  # 1000 bytes as JSON, then the newline
    with pytest.raises(errors.OutputTooLarge):
        invoke(bridge, "r" * 999)


def test_envelope_cap_counts_the_result_not_the_envelope(binaries, make_bridge):
    event = "e" * 998  # 1000 bytes as JSON; the envelope line around it is longer
    bridge = make_bridge("envelope", binary=binaries["persist"], mode="persistent", framing="envelope",
                         max_output_bytes="1000")
    assert invoke(bridge, event) == event
    with pytest.raises(errors.OutputTooLarge):
        invoke(bridge, event + "e")


def test_runtime_api_mode_honours_the_cap(make_bridge, project_binaries):
    bridge = make_bridge("", binary=project_binaries / "runtime_go", mode="runtime-api", max_output_bytes="2000")
    assert invoke(bridge, {"small": 1})["event"] == {"small": 1}
    with pytest.raises(errors.OutputTooLarge):
        invoke(bridge, {"big": "b" * 3000})
    assert invoke(bridge, {"small": 2})["event"] == {"small": 2}  # and the runtime carries on


# 6. stderr: linear, bounded, nothing lost; a cut line is logged as cut.

def test_a_30_mb_line_without_newline_is_logged_whole_in_marked_pieces(binaries, make_bridge, capfd):
    size = 30 * 1024 * 1024 + 12340  # not a whole number of pieces
    assert invoke(hostile(make_bridge, binaries, f"no-newline {size}"), {}) == {}
    err = capfd.readouterr().err
    lines = [line.split("\t", 3)[3] for line in err.split("\n") if line.startswith("[INFO]\t")]
    mark = logs.CUT_MARK.decode()
    assert len(lines) == size // logs.LINE_MAX + 1
    assert all(line.endswith(mark) for line in lines[:-1]) and not lines[-1].endswith(mark)
    assert sum(len(line.removesuffix(mark)) for line in lines) == size


# 7. Binary checks: an exec-only binary runs; an unusable one says what to do.

def as_nobody(task: Path, env: dict[str, str]) -> tuple[str, str]:
    """Build and invoke a Bridge in a forked child running as nobody: (outcome, detail)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns to pytest
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                bridge = Bridge(Config.from_environ(str(task), env))
                outcome = ("ok", json.dumps(bridge.invoke({"as": "nobody"}, LocalContext())))
            except Exception as exc:
                outcome = (type(exc).__name__, str(exc))
            os.write(write, json.dumps(outcome).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return tuple(json.loads(data))


@pytest.fixture
def shared_task(binaries):
    if os.getuid() != 0:
        pytest.skip("needs root to drop to another user")
    task = Path(tempfile.mkdtemp(prefix="exec-bridge-task-"))
    task.chmod(0o755)
    (task / "bin").mkdir(mode=0o755)
    shutil.copy(binaries["misbehave"], task / "bin" / "tool")
    yield task
    shutil.rmtree(task)


def test_an_exec_only_binary_runs(shared_task):
    (shared_task / "bin" / "tool").chmod(0o711)
    outcome, detail = as_nobody(shared_task, {"BRIDGE_BINARY": "bin/tool"})
    assert (outcome, json.loads(detail) if outcome == "ok" else detail) == ("ok", {"as": "nobody"})


def test_a_binary_the_function_can_neither_run_nor_read_says_what_to_do(shared_task):
    (shared_task / "bin" / "tool").chmod(0o700)
    outcome, detail = as_nobody(shared_task, {"BRIDGE_BINARY": "bin/tool"})
    assert outcome == "BinaryNotExecutable" and "0755" in detail and "uid 65534" in detail


# 8. Several runtime workers in one environment (Lambda Managed Instances) share /tmp.

WORKER = """
import json, sys
from bridge.bridge import Bridge
from bridge.config import Config
from bridge.context import LocalContext
bridge = Bridge(Config.from_environ(sys.argv[1], {"BRIDGE_BINARY": "bin/tool", "BRIDGE_ARGS": sys.argv[2],
                                                  "BRIDGE_MODE": sys.argv[3]}))
print(json.dumps([bridge.program.path, bridge.invoke(sys.argv[4], LocalContext())]))
bridge.close()
"""


def start_workers(task: Path, tmp: Path, count: int, args: str, mode: str, event: str) -> list[list]:
    env = settings_environ(TMPDIR=str(tmp))
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(task), args, mode, event], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(count)]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err.decode()
        results.append(json.loads(out))
    return results


def test_workers_making_the_tmp_copy_at_once_all_run_one_whole_copy(tmp_path, binaries):
    task = tmp_path / "task"
    (task / "bin").mkdir(parents=True)
    shutil.copy(binaries["misbehave"], task / "bin" / "tool")
    (task / "bin" / "tool").chmod(0o644)  # the exec bit lost: every worker needs the copy
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    results = start_workers(task, scratch, 8, "echo", "oneshot", "hello")
    assert {path for path, _ in results} == {results[0][0]} and all(reply == "hello" for _, reply in results)
    copies = [p.name for p in scratch.rglob("*") if p.is_file()]
    assert len(copies) == 1 and not copies[0].endswith(".partial")
    assert Path(results[0][0]).read_bytes() == binaries["misbehave"].read_bytes()


def test_each_worker_has_its_own_long_lived_binary(tmp_path, binaries):
    task = tmp_path / "task"
    (task / "bin").mkdir(parents=True)
    shutil.copy(binaries["persist"], task / "bin" / "tool")
    results = start_workers(task, tmp_path, 4, "lines", "persistent", "pid")
    pids = [reply["pid"] for _, reply in results]
    assert len(set(pids)) == 4


# 9. CLI: every invalid option exits 2 with a usage message.

@pytest.mark.parametrize("options", [["--timeout", "nan"], ["--timeout", "inf"], ["--timeout", "-1"],
                                     ["--timeout", "soon"], ["--bogus"], ["--binary"], ["extra"]])
def test_invalid_cli_options_exit_2_with_usage(binaries, options):
    done = cli(binaries["misbehave"], "echo", b"{}", *options)
    assert done.returncode == 2 and b"usage:" in done.stderr and b"Traceback" not in done.stderr

