"""Persistent mode: one long-lived process, line or envelope framing, and every way it can go wrong."""

from __future__ import annotations

import os
import select

import pytest
from conftest import ROOT, compile_c, compile_crystal, invoke

from bridge import errors


@pytest.fixture
def persistent(binaries, make_bridge):
    def make(framing: str = "lines", **settings: str):
        return make_bridge(framing, binary=binaries["persist"], mode="persistent", framing=framing, **settings)

    return make


def pid_of(bridge) -> int:
    return invoke(bridge, "pid")["pid"]


@pytest.mark.parametrize("framing", ["lines", "envelope"])
def test_many_calls_reuse_one_process(persistent, framing):
    bridge = persistent(framing)
    first = pid_of(bridge)
    for n in range(200):
        assert invoke(bridge, {"n": n, "text": "it's \"x\"\n"}) == {"n": n, "text": "it's \"x\"\n"}
    assert pid_of(bridge) == first


@pytest.mark.parametrize("framing", ["lines", "envelope"])
def test_crash_mid_call_then_recovery(persistent, framing):
    bridge = persistent(framing)
    first = pid_of(bridge)
    with pytest.raises(errors.BinarySignalError) as caught:
        invoke(bridge, "crash")
    assert "SIGABRT" in str(caught.value) and "crashing now" in str(caught.value)
    assert pid_of(bridge) != first
    assert invoke(bridge, [1, 2]) == [1, 2]


def test_timeout_then_recovery(persistent):
    bridge = persistent("lines", timeout_margin_ms="500")
    first = pid_of(bridge)
    with pytest.raises(errors.BinaryTimeout):
        invoke(bridge, "sleep", timeout=1.2)
    with pytest.raises(ProcessLookupError):
        os.kill(first, 0)  # killed and reaped, not left running
    assert pid_of(bridge) != first


def test_exit_between_calls_restarts_and_logs(persistent, capfd):
    bridge = persistent("lines")
    first = pid_of(bridge)
    assert invoke(bridge, "exit") == "bye"
    assert invoke(bridge, {"after": "restart"}) == {"after": "restart"}
    assert pid_of(bridge) != first
    err = capfd.readouterr().err
    assert "exited between calls with status 0" in err and "restarting it" in err


def test_partial_line_then_exit_fails_the_call(persistent):
    bridge = persistent("lines")
    with pytest.raises(errors.BinaryExitError) as caught:
        invoke(bridge, "partial")
    assert "before replying" in str(caught.value) and "unfinished reply" in str(caught.value)
    assert invoke(bridge, 5) == 5


def test_garbage_reply_fails_clearly(persistent):
    with pytest.raises(errors.InvalidOutput) as caught:
        invoke(persistent("lines"), "garbage")
    assert "this is not json" in str(caught.value)


def test_garbage_envelope_is_a_protocol_error(persistent):
    bridge = persistent("envelope")
    with pytest.raises(errors.BinaryProtocolError):
        invoke(bridge, "garbage")
    assert invoke(bridge, "fine") == "fine"


def test_envelope_id_mismatch_never_reaches_the_caller(persistent):
    bridge = persistent("envelope")
    first = pid_of(bridge)
    with pytest.raises(errors.BinaryProtocolError) as caught:
        invoke(bridge, "wrongid")
    assert "answered id" in str(caught.value)
    assert pid_of(bridge) != first  # restarted: its next reply cannot be the stale one


def test_stray_extra_line_restarts_the_binary(persistent, capfd):
    bridge = persistent("lines")
    assert invoke(bridge, "two") == 1
    assert invoke(bridge, {"next": True}) == {"next": True}  # not the stray "2"
    assert "outside a call" in capfd.readouterr().err


def test_typed_error_through_the_envelope_keeps_the_process(persistent):
    bridge = persistent("envelope")
    first = pid_of(bridge)
    with pytest.raises(errors.BinaryError) as caught:
        invoke(bridge, "typed")
    assert type(caught.value).__name__ == "OrderRejected" and str(caught.value) == "out of stock"
    assert pid_of(bridge) == first


@pytest.mark.parametrize("framing", ["lines", "envelope"])
def test_six_megabyte_round_trip(persistent, framing):
    bridge = persistent(framing)
    event = {"body": "q" * (6 * 1024 * 1024 - 200)}
    assert invoke(bridge, event) == event
    assert invoke(bridge, event) == event


def test_megabyte_of_stderr_between_calls(persistent, capfd):
    bridge = persistent("lines")
    first = pid_of(bridge)
    assert invoke(bridge, "stderr") == "logged"
    for n in range(3):
        assert invoke(bridge, n) == n
    assert pid_of(bridge) == first
    bridge.close()  # what the calls have not drained yet is logged as the binary stops: nothing is lost
    logged = capfd.readouterr().err
    # Every byte arrives (a line cut by the end of a call is logged in two parts, never held back).
    assert logged.count("s") == (1048576 // 100) * 99  # a record's head ([INFO], time, request id) has no "s"


def test_over_long_reply_fails_and_restarts(persistent):
    bridge = persistent("lines", max_output_bytes="2000000")
    first = pid_of(bridge)
    with pytest.raises(errors.OutputTooLarge):
        invoke(bridge, "huge")
    assert pid_of(bridge) != first


def test_close_kills_the_process(persistent):
    bridge = persistent("lines")
    pid = pid_of(bridge)
    bridge.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


EXAMPLES = ROOT / "examples" / "persistent"


@pytest.fixture(scope="session")
def examples() -> dict[str, os.PathLike]:
    """The documented example binaries, C and Crystal, each framing."""
    built = {}
    for source in sorted(EXAMPLES.iterdir()):
        output = ROOT / "tests" / ".bin" / f"example-{source.stem}-{source.suffix[1:]}"
        built[f"{source.stem}.{source.suffix[1:]}"] = (
            compile_c(source, output) if source.suffix == ".c" else compile_crystal(source, output)
        )
    return built


@pytest.mark.parametrize("language", ["c", "cr"])
@pytest.mark.parametrize("framing", ["lines", "envelope"])
def test_documented_examples(examples, make_bridge, capfd, language, framing):
    bridge = make_bridge("", binary=examples[f"{framing}.{language}"], mode="persistent", framing=framing)
    from bridge.context import LocalContext

    context = LocalContext()
    assert bridge.invoke({"a": [1, "two"]}, context) == {"echo": {"a": [1, "two"]}}
    assert invoke(bridge, "x" * 100000) == {"echo": "x" * 100000}
    if framing == "envelope":
        with pytest.raises(errors.BinaryError) as caught:
            invoke(bridge, "fail")
        assert type(caught.value).__name__ == "RequestedFailure"
        assert invoke(bridge, 7) == {"echo": 7}
    err = capfd.readouterr().err
    assert f"\t{context.aws_request_id}\t" in err
    if framing == "envelope" and language == "cr":
        assert f"request {context.aws_request_id}" in err  # the context reached the binary


@pytest.mark.parametrize("start", ["init", "first-call"])
def test_the_binary_starts_during_init_unless_asked_not_to(persistent, start):
    bridge = persistent(start=start)
    assert (bridge.mode.child is not None) == (start == "init")
    first = pid_of(bridge)
    assert pid_of(bridge) == first


def test_a_binary_that_cannot_start_fails_the_init(make_bridge, tmp_path):
    script = tmp_path / "gone"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    with pytest.raises(errors.BinaryFormatError):
        make_bridge("", binary=script, mode="persistent")


def test_snapstart_restore_replaces_the_binary(persistent, monkeypatch):
    """The after-restore hook, run the way the python runtime runs it (awslambdaric's hooks runner)."""
    from awslambdaric import lambda_runtime_hooks_runner
    from snapshot_restore_py import get_after_restore

    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    hooks = get_after_restore()
    registered = len(hooks)
    try:
        restarted = persistent()
        kept = persistent(snapstart="keep")
        assert len(hooks) == registered + 1  # only the one that asked for it
        before = pid_of(restarted), pid_of(kept)
        lambda_runtime_hooks_runner.run_after_restore()
        assert pid_of(restarted) != before[0] and pid_of(kept) == before[1]
        assert invoke(restarted, {"after": "restore"}) == {"after": "restore"}
    finally:
        del hooks[registered:]


GREETER = "-c 'printf \"ready to serve\\nsecond banner line\\n\"; while read l; do echo \"$l\"; done'"  # one write


def test_a_greeting_before_the_first_message_is_logged_not_taken_for_a_reply(make_bridge, capfd):
    """A binary that prints a banner when it starts (BRIDGE_START=init, the default: it has, by the first
    call) answers every call, and the banner is in the log."""
    bridge = make_bridge(GREETER, binary="/bin/sh", mode="persistent")
    pid = bridge.mode.child.pid
    assert select.select([bridge.mode.child.stdout], [], [], 10)[0]  # written during init, before any call
    assert invoke(bridge, {"n": 1}) == {"n": 1} and invoke(bridge, {"n": 2}) == {"n": 2}
    assert bridge.mode.child.pid == pid  # not restarted
    err = capfd.readouterr().err
    assert "ready to serve" in err and "second banner line" in err and "before its first message" in err



def test_envelope_ids_go_up_by_one_per_call(make_bridge):
    """The envelope's id starts at 1 and increases by one per call (docs/protocol.md)."""
    answer_with_the_id = ("-c 'while read l; do id=${l#{\\\"id\\\":}; id=${id%%,*}; "
                          "printf \"{\\\"id\\\":%s,\\\"result\\\":%s}\\\\n\" \"$id\" \"$id\"; done'")
    bridge = make_bridge(answer_with_the_id, binary="/bin/sh", mode="persistent", framing="envelope")
    assert [invoke(bridge, {"n": n}) for n in range(4)] == [1, 2, 3, 4]
