"""Runtime-API mode: custom-runtime binaries (sh + curl, Go, Crystal, awslambdaric) under the bridge."""

from __future__ import annotations

import base64
import http.client
import json
import os
import subprocess
import sys
import threading
import time

import pytest
from conftest import ROOT, api_request, invoke, sample_event, settings_environ, wait_done

from bridge import errors
from bridge.context import LocalContext
from bridge.runtime_server import MAX_PAYLOAD, Delivery

RAW_BOOTSTRAP = ROOT / "tests" / "runtime_handlers" / "raw_bootstrap"
NOT_UTF8 = b"\xff\xfe raw \x00 bytes\r\n"

# binary, arguments, the errorType it posts for the event "fail", where its answer holds the event
RUNTIMES = {
    "shell": ("bin/runtime_shell", "", "Shell.RequestedFailure", "echo"),
    "go": ("bin/runtime_go", "", "Go.RequestedFailure", "event"),
    "crystal": ("bin/runtime_hello", "", "Crystal.RequestedFailure", "event"),
    "awslambdaric": (sys.executable, "-m awslambdaric tests/runtime_handlers/probe.handler", "OrderRejected", "event"),
}


@pytest.fixture
def runtime(make_bridge, project_binaries):
    def make(name: str = "go", **settings: str):
        binary, args = RUNTIMES[name][:2]
        return make_bridge(args, binary=binary, mode="runtime-api", **settings)

    return make


@pytest.mark.parametrize("name", sorted(RUNTIMES))
def test_each_runtime_answers_and_types_its_errors(runtime, name):
    bridge = runtime(name)
    _, _, error_type, key = RUNTIMES[name]
    event = {"text": "it's \"quoted\" \\ 日本 🦀", "n": [1, 2]}
    for _ in range(3):  # the same process serves call after call
        assert invoke(bridge, event)[key] == event
    with pytest.raises(errors.BinaryError) as caught:
        invoke(bridge, "fail")
    assert type(caught.value).__name__ == error_type
    assert invoke(bridge, 5)[key] == 5  # an error posted is not a crash: the runtime goes on


def test_every_lambda_header_reaches_the_runtime(runtime):
    bridge = runtime("go", handler="main.handle")
    context = LocalContext(timeout_s=20)

    class Identity:
        cognito_identity_id, cognito_identity_pool_id = "id-1", "pool-1"

    context.identity = Identity()
    context.client_context = {"custom": {"tenant": "t1"}, "env": {}, "client": None}
    started = time.time() * 1000
    seen = bridge.invoke({"x": 1}, context)
    assert seen["requestId"] == context.aws_request_id
    assert abs(int(seen["deadlineMs"]) - (started + 20000)) < 2000
    assert seen["functionArn"] == context.invoked_function_arn
    assert seen["traceId"].startswith("Root=1-")
    assert '"cognitoIdentityId":"id-1"' in seen["cognitoIdentity"]
    assert '"tenant":"t1"' in seen["clientContext"]
    assert seen["handler"] == "main.handle" and seen["taskRoot"] == str(ROOT)


def test_awslambdaric_context(runtime):
    bridge = runtime("awslambdaric")
    context = LocalContext(timeout_s=15)
    seen = bridge.invoke("hello", context)
    assert seen["requestId"] == context.aws_request_id
    assert seen["functionArn"] == context.invoked_function_arn
    assert 10000 < seen["remainingMs"] <= 15000


def test_stdout_of_a_custom_runtime_is_log_output(runtime, capfd):
    bridge = runtime("go")
    context = LocalContext()
    result = bridge.invoke("print", context)
    assert result["event"] == "print"
    assert f"\t{context.aws_request_id}\tthis line went to stdout\n" in capfd.readouterr().err


@pytest.mark.parametrize(("body", "expected"), [
    (NOT_UTF8, NOT_UTF8),  # not JSON, not even UTF-8: the bytes, exactly
    (b"plain text, not JSON\n", b"plain text, not JSON\n"),
    (b'{"json": [1, "two"]}', {"json": [1, "two"]}),
])
def test_a_runtime_body_passes_through_as_lambda_passes_it(make_bridge, body, expected):
    bridge = make_bridge("", binary=RAW_BOOTSTRAP, mode="runtime-api")
    assert invoke(bridge, {"base64": base64.b64encode(body).decode()}) == expected


def test_a_runtime_body_that_is_not_json_answers_an_http_event_exactly(make_bridge):
    bridge = make_bridge("", binary=RAW_BOOTSTRAP, mode="runtime-api")
    event = sample_event("api_gateway_v2")
    event["base64"] = base64.b64encode(NOT_UTF8).decode()
    response = invoke(bridge, event)
    assert response["statusCode"] == 200 and response["isBase64Encoded"] is True
    assert base64.b64decode(response["body"]) == NOT_UTF8


def test_the_cli_writes_a_body_that_is_not_json_as_its_bytes():
    environ = settings_environ(BRIDGE_BINARY=str(RAW_BOOTSTRAP), BRIDGE_MODE="runtime-api")
    event = json.dumps({"base64": base64.b64encode(NOT_UTF8).decode()}).encode()
    done = subprocess.run([sys.executable, "handler.py"], input=event, capture_output=True, cwd=ROOT, env=environ,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == NOT_UTF8


def test_crash_mid_call_then_recovery(runtime):
    bridge = runtime("go")
    first = invoke(bridge, 1)["pid"]
    with pytest.raises(errors.BinaryExitError) as caught:
        invoke(bridge, "crash")
    assert "status 3" in str(caught.value) and "crashing mid-call" in str(caught.value)
    assert invoke(bridge, 2)["pid"] != first


def test_timeout_then_recovery(runtime):
    bridge = runtime("go", timeout_margin_ms="500")
    first = invoke(bridge, 1)["pid"]
    started = time.monotonic()
    with pytest.raises(errors.BinaryTimeout):
        invoke(bridge, "sleep", timeout=1.5)
    assert time.monotonic() - started < 2.5
    with pytest.raises(ProcessLookupError):
        os.kill(first, 0)
    assert invoke(bridge, 2)["pid"] != first


def test_init_error_is_reported_as_such(runtime, monkeypatch):
    monkeypatch.setenv("RUNTIME_GO_INIT_FAIL", "1")
    with pytest.raises(errors.BinaryError) as caught:
        invoke(runtime("go"), {})
    assert type(caught.value).__name__ == "Go.InitFailed"
    assert "init error" in str(caught.value) and "configuration missing" in str(caught.value)


def test_runtime_that_dies_during_init_fails_the_init(make_bridge, binaries):
    """It exits without ever asking for an invocation: with BRIDGE_START=init (the default) making the bridge,
    Lambda's init phase, fails."""
    with pytest.raises(errors.BinaryExitError) as caught:
        make_bridge("exit 4", mode="runtime-api")
    assert "status 4" in str(caught.value)


def test_runtime_that_dies_during_init_fails_the_first_call_when_started_then(make_bridge, binaries):
    bridge = make_bridge("exit 4", mode="runtime-api", start="first-call")  # nothing started yet: no error
    with pytest.raises(errors.BinaryExitError) as caught:
        invoke(bridge, {})
    assert "status 4" in str(caught.value)


def test_no_thread_or_socket_leaks_across_many_calls(runtime):
    threads, fds_before = threading.active_count(), len(os.listdir("/proc/self/fd"))
    bridge = runtime("go")
    invoke(bridge, 0)
    fds = len(os.listdir("/proc/self/fd"))
    for n in range(1000):
        assert invoke(bridge, n)["event"] == n
    assert threading.active_count() == threads  # the server runs in the bridge's own poll loop: no thread
    assert len(os.listdir("/proc/self/fd")) == fds
    bridge.close()
    assert len(os.listdir("/proc/self/fd")) <= fds_before + 1  # the orphan sweep's /proc file may stay open


# The server itself, spoken to directly.


def test_server_status_codes(server):
    pending = Delivery("req-1", b'{"a":1}', {"Lambda-Runtime-Aws-Request-Id": "req-1"})
    server.offer(pending)
    response, body = api_request(server, "GET", "/2018-06-01/runtime/invocation/next")
    assert response.status == 200 and body == b'{"a":1}'
    assert response.getheader("Lambda-Runtime-Aws-Request-Id") == "req-1"
    response, body = api_request(server, "POST", "/2018-06-01/runtime/invocation/other/response", b"{}")
    assert response.status == 400 and b"InvalidRequestID" in body
    response, _ = api_request(server, "POST", "/2018-06-01/runtime/invocation/req-1/response", b'"ok"')
    wait_done(pending)
    assert response.status == 202 and pending.outcome == "response" and pending.answer == b'"ok"'
    response, body = api_request(server, "POST", "/2018-06-01/runtime/invocation/req-1/response", b'"again"')
    assert response.status == 403 and b"InvalidStateTransition" in body
    response, body = api_request(server, "GET", "/2018-06-01/runtime/nonsense")
    assert response.status == 400


def test_server_refuses_payloads_over_6_mb(server):
    pending = Delivery("req-2", b"{}", {"Lambda-Runtime-Aws-Request-Id": "req-2"})
    server.offer(pending)
    api_request(server, "GET", "/2018-06-01/runtime/invocation/next")
    response, body = api_request(server, "POST", "/2018-06-01/runtime/invocation/req-2/response",
                                 b"x" * (MAX_PAYLOAD + 1))
    assert response.status == 413 and b"RequestEntityTooLarge" in body
    wait_done(pending)
    assert pending.outcome == "too-large"


def test_server_answers_fast_on_loopback(server):
    """Nagle disabled and keep-alive: one connection, many sub-millisecond exchanges (loose bound)."""
    host, port = server.address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    started = time.perf_counter()
    for n in range(50):
        request_id = f"r{n}"
        server.offer(Delivery(request_id, b"{}", {"Lambda-Runtime-Aws-Request-Id": request_id}))
        connection.request("GET", "/2018-06-01/runtime/invocation/next")
        connection.getresponse().read()
        connection.request("POST", f"/2018-06-01/runtime/invocation/{request_id}/response", body=b"{}")
        response = connection.getresponse()
        response.read()
        assert response.status == 202
    connection.close()
    assert time.perf_counter() - started < 2.0  # 40 ms Nagle stalls would take 4 s


def test_close_lets_the_runtime_clean_up(runtime, tmp_path, monkeypatch):
    """An orderly close is SIGTERM first: the sh bootstrap's trap removes its temporary file."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    bridge = runtime("shell")
    assert invoke(bridge, 1)["echo"] == 1
    assert len(list(tmp_path.iterdir())) == 1  # the header file mktemp made
    bridge.close()
    assert list(tmp_path.iterdir()) == []
