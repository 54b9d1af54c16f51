"""Runtime API conformance: runtimes that speak HTTP as the official libraries do, through the proxy (in
process) and the emulator (a subprocess), at 1 KB and 3 MB.

- ``chunked_go``: aws-lambda-go's wire shape, standard library only: chunked posts declaring trailers;
- the same, streaming (``Lambda-Runtime-Function-Response-Mode: streaming``, an HTTP integration response);
- ``bin/runtime_shell``: sh + curl posting a file, so curl sends ``Expect: 100-continue`` above 1 MiB. Its
  ``.curlrc`` makes curl wait 60 s for ``100 Continue`` (the default is 1 s), so a server that never
  answers it fails the call at its deadline instead of passing slowly;
- ``http10_bootstrap``: HTTP/1.0, a connection per request, lower-case headers, the body in small pieces.
"""

from __future__ import annotations

import json
import socket
import time

import pytest
from conftest import ROOT, emulate, invoke, sample_event, wait_done

from bridge import errors
from bridge.context import LocalContext
from bridge.modes.runtime_api import posted_error
from bridge.runtime_server import MAX_PAYLOAD, Delivery

SIZES = {"1KB": 1_000, "3MB": 3_000_000}
HTTP10 = ROOT / "tests" / "runtime_handlers" / "http10_bootstrap"


@pytest.fixture
def curlrc(tmp_path):
    (tmp_path / ".curlrc").write_text("expect100-timeout = 60\n")
    return str(tmp_path)


@pytest.fixture
def runtimes(go_runtimes, project_binaries, curlrc):
    """name: (binary, its environment, the key its answer holds the event under)."""
    go = str(go_runtimes["chunked_go"])
    return {
        "go-chunked": (go, {}, "echo"),
        "go-streaming": (go, {"RUNTIME_STREAMING": "1"}, "echo"),
        "curl": (str(ROOT / "bin" / "runtime_shell"), {"CURL_HOME": curlrc}, "echo"),
        "http10": (str(HTTP10), {}, "echo"),
    }


def sized_event(size: int) -> dict:
    return {"pad": "x" * size, "quote": "it's \"q\" \\ 日本"}


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("name", ["go-chunked", "go-streaming", "curl", "http10"])
def test_through_the_proxy(make_bridge, runtimes, monkeypatch, name, size):
    binary, environ, key = runtimes[name]
    for variable, value in environ.items():
        monkeypatch.setenv(variable, value)
    bridge = make_bridge("", binary=binary, mode="runtime-api", runtime_api="proxy", timeout_margin_ms="0")
    event = sized_event(SIZES[size])
    for _ in range(3):  # call after call on the same runtime
        assert invoke(bridge, event, timeout=20)[key] == event


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("name", ["go-chunked", "go-streaming", "curl", "http10"])
def test_through_the_emulator(runtimes, name, size):
    binary, environ, key = runtimes[name]
    event = sized_event(SIZES[size])
    code, lines, stderr = emulate([event, event], "--timeout", "20", "--", binary, **environ)
    assert code == 0, stderr
    assert [line["response"][key] for line in lines] == [event, event]


def test_a_streamed_http_response_becomes_the_integrations_response(make_bridge, go_runtimes, monkeypatch):
    monkeypatch.setenv("RUNTIME_STREAMING", "1")
    bridge = make_bridge("", binary=go_runtimes["chunked_go"], mode="runtime-api")
    event = sample_event("api_gateway_v2")
    response = invoke(bridge, event)
    assert response["statusCode"] == 201
    assert response["headers"]["X-Streamed"] == "yes"
    assert response["cookies"] == ["a=1", "b=2"]
    assert json.loads(response["body"])["echo"] == event


def test_an_error_sent_in_trailers_is_the_typed_error(make_bridge, go_runtimes):
    bridge = make_bridge("", binary=go_runtimes["chunked_go"], mode="runtime-api")
    pid = bridge.mode.child.pid
    with pytest.raises(errors.BinaryError) as caught:
        invoke(bridge, "midfail")
    assert type(caught.value).__name__ == "Go.ReaderFailed"
    assert str(caught.value) == "the reader broke off"
    assert invoke(bridge, 1)["echo"] == 1 and bridge.mode.child.pid == pid  # a 202: the runtime goes on


def test_an_error_posted_chunked_keeps_its_type(make_bridge, go_runtimes):
    bridge = make_bridge("", binary=go_runtimes["chunked_go"], mode="runtime-api")
    with pytest.raises(errors.BinaryError) as caught:
        invoke(bridge, "fail")
    assert type(caught.value).__name__ == "Go.RequestedFailure"


def test_a_post_dropped_mid_body_fails_typed_without_waiting(make_bridge, go_runtimes):
    """The runtime closes its connection partway through its body and stays alive: the call fails at once
    (not at its 60 s deadline), typed, and the next call gets a new runtime."""
    bridge = make_bridge("", binary=go_runtimes["chunked_go"], mode="runtime-api")
    pid = bridge.mode.child.pid
    with pytest.raises(errors.BinaryProtocolError) as caught:
        invoke(bridge, "drop", timeout=60)
    assert "closed its connection" in str(caught.value)
    assert invoke(bridge, 2)["echo"] == 2 and bridge.mode.child.pid != pid


def test_a_response_over_the_cap_is_output_too_large_and_the_runtime_is_replaced(make_bridge, go_runtimes):
    bridge = make_bridge("", binary=go_runtimes["chunked_go"], mode="runtime-api", max_output_bytes="100000")
    pid = bridge.mode.child.pid
    with pytest.raises(errors.OutputTooLarge):
        invoke(bridge, sized_event(200_000))
    assert invoke(bridge, 3)["echo"] == 3 and bridge.mode.child.pid != pid


def test_the_tenant_reaches_the_runtime(make_bridge, go_runtimes):
    bridge = make_bridge("", binary=go_runtimes["chunked_go"], mode="runtime-api")
    context = LocalContext()
    context.tenant_id = "tenant-7"
    assert bridge.invoke({"k": 1}, context)["tenant"] == "tenant-7"
    assert invoke(bridge, {"k": 2})["tenant"] == ""  # no tenant: no header


def test_the_emulator_passes_the_tenant(go_runtimes):
    code, lines, _ = emulate([1], "--tenant-id", "t-1", "--", str(go_runtimes["chunked_go"]))
    assert code == 0 and lines[0]["response"]["tenant"] == "t-1"


@pytest.mark.parametrize(("declared", "body", "expected"), [
    ("Header.Type", b'{"errorType":"Body.Type","errorMessage":"m"}', "Header.Type"),  # the declared type wins
    ("Same.Type", b'{"errorType":"Same.Type","errorMessage":"m"}', "Same.Type"),  # as every official client
    ("", b'{"errorType":"Body.Type","errorMessage":"m"}', "Body.Type"),  # none declared: the body's
    ("Header.Type", b"not json", "Header.Type"),
    ("", b"not json", "Unhandled"),
    ("", b"", "Unhandled"),
])
def test_the_type_of_a_posted_error(declared, body, expected):
    error = posted_error(declared, body)
    assert type(error).__name__ == expected
    assert error.document == (json.loads(body) if body.startswith(b"{") else error.document)


def test_a_runtime_sees_the_variables_lambda_gives_every_runtime(make_bridge, go_runtimes, monkeypatch):
    for name in ("AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                 "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
    bridge = make_bridge("", binary=go_runtimes["chunked_go"], mode="runtime-api")
    environ = (open(f"/proc/{bridge.mode.child.pid}/environ", "rb").read().split(b"\0"))
    seen = dict(item.decode().split("=", 1) for item in environ if b"=" in item)
    assert seen["AWS_LAMBDA_FUNCTION_NAME"] == "exec-bridge-local"
    assert seen["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert seen["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"  # the function's own, where it has one
    assert seen["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/exec-bridge-local"
    assert seen["AWS_LAMBDA_LOG_STREAM_NAME"]


# The server spoken to directly, a byte at a time where it matters.


def raw_exchange(server, data: bytes, *, read_until_close: bool = True) -> bytes:
    host, port = server.address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        if not read_until_close:
            return sock.recv(1 << 16)
        chunks = []
        while chunk := sock.recv(1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)


NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"


def delivered(server, request_id: str) -> Delivery:
    """A delivery handed to a ``next`` over a connection of its own (as a runtime would have it)."""
    delivery = Delivery(request_id, b"{}", {"Lambda-Runtime-Aws-Request-Id": request_id})
    server.offer(delivery)
    assert raw_exchange(server, NEXT, read_until_close=False).startswith(b"HTTP/1.1 200 OK")
    return delivery


def post_head(request_id: str, *headers: str) -> bytes:
    lines = [f"POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1", "Host: x", *headers, "", ""]
    return "\r\n".join(lines).encode()


def test_expect_100_continue_is_answered_before_the_body(server):
    delivery = delivered(server, "e1")
    host, port = server.address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(post_head("e1", "Content-Length: 4", "Expect: 100-continue"))
        assert sock.recv(1 << 16) == b"HTTP/1.1 100 Continue\r\n\r\n"  # the body is not sent before this
        sock.sendall(b'"ok"')
        assert sock.recv(1 << 16).startswith(b"HTTP/1.1 202 Accepted")
    wait_done(delivery)
    assert delivery.outcome == "response" and delivery.answer == b'"ok"'


def test_expect_with_a_body_too_large_gets_a_final_413_at_once(server):
    delivery = delivered(server, "e2")
    answer = raw_exchange(server, post_head("e2", f"Content-Length: {MAX_PAYLOAD + 1}", "Expect: 100-continue"))
    assert answer.startswith(b"HTTP/1.1 413 ") and b"RequestEntityTooLarge" in answer  # then the server closes
    assert b"Connection: close" in answer
    wait_done(delivery)
    assert delivery.outcome == "too-large"


def test_a_chunked_body_over_the_limit_is_counted_not_kept(server):
    delivery = delivered(server, "c1")
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n%b\r\n" % (len(chunk), chunk) for _ in range(MAX_PAYLOAD // len(chunk) + 2))
    answer = raw_exchange(server, post_head("c1", "Transfer-Encoding: chunked", "Connection: close") + body
                          + b"0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413 ")
    wait_done(delivery)
    assert delivery.outcome == "too-large"


def test_trailers_declare_an_error_type_on_an_error_post(server):
    delivery = delivered(server, "t1")
    head = post_head("t1", "Transfer-Encoding: chunked", "Trailer: Lambda-Runtime-Function-Error-Type",
                     "Connection: close").replace(b"/response", b"/error")
    body = b'{"errorMessage":"m"}'
    answer = raw_exchange(server, head + b"%x\r\n%b\r\n0\r\nlambda-runtime-function-error-type: Trailer.Type\r\n\r\n"
                          % (len(body), body))
    assert answer.startswith(b"HTTP/1.1 202 ")
    wait_done(delivery)
    assert delivery.outcome == "error" and delivery.error_type == "Trailer.Type"
    assert type(posted_error(delivery.error_type, delivery.answer)).__name__ == "Trailer.Type"


def test_pipelined_requests_on_one_connection_are_each_answered(server):
    server.offer(Delivery("p1", b'"one"', {"Lambda-Runtime-Aws-Request-Id": "p1"}))
    both = NEXT + post_head("p1", "Content-Length: 2", "Connection: close") + b"{}"
    answer = raw_exchange(server, both)
    assert answer.count(b"HTTP/1.1 ") == 2 and b'"one"' in answer and b"202 Accepted" in answer


def test_http_10_keep_alive_is_kept_and_said(server):
    host, port = server.address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        for _ in range(2):  # the same connection, twice
            sock.sendall(b"GET /2018-06-01/runtime/nonsense HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            answer = sock.recv(1 << 16)
            assert answer.startswith(b"HTTP/1.1 400 ") and b"Connection: keep-alive" in answer


@pytest.mark.parametrize("request_bytes", [
    b"NOT HTTP AT ALL\r\n\r\n",
    b"GET /x HTTP/1.1\r\nBad Header Line\r\n\r\n",
    b"POST /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",  # smuggling shape
    b"GET /x HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
])
def test_a_malformed_request_gets_400_and_the_connection_closes(server, request_bytes):
    answer = raw_exchange(server, request_bytes)
    assert answer.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in answer


def test_a_response_mode_other_than_streaming_is_refused(server):
    delivery = delivered(server, "m1")
    answer = raw_exchange(server, post_head("m1", "Content-Length: 2", "Lambda-Runtime-Function-Response-Mode: "
                                            "buffered", "Connection: close") + b"{}")
    assert answer.startswith(b"HTTP/1.1 400 ") and b"InvalidFunctionResponseMode" in answer
    assert not delivery.done()  # the runtime may still answer it properly


def test_concurrent_next_requests_are_matched_by_request_id(server):
    """Several workers parked on next at once (Lambda Managed Instances): each gets its own delivery, and
    the answers, posted in the other order, reach the right ones."""
    host, port = server.address.split(":")
    workers = [socket.create_connection((host, int(port)), timeout=10) for _ in range(3)]
    try:
        for worker in workers:
            worker.sendall(NEXT)
        deliveries = [Delivery(f"w{n}", b'"%d"' % n, {"Lambda-Runtime-Aws-Request-Id": f"w{n}"}) for n in range(3)]
        for delivery in deliveries:
            server.offer(delivery)
        ids = [worker.recv(1 << 16).split(b"Lambda-Runtime-Aws-Request-Id: ")[1][:2].decode() for worker in workers]
        assert sorted(ids) == ["w0", "w1", "w2"]
        for worker, request_id in reversed(list(zip(workers, ids, strict=True))):
            worker.sendall(post_head(request_id, "Content-Length: 4") + f'"{request_id}"'.encode())
            assert worker.recv(1 << 16).startswith(b"HTTP/1.1 202 ")
        for delivery in deliveries:
            wait_done(delivery)
            assert delivery.answer == f'"{delivery.request_id}"'.encode()
    finally:
        for worker in workers:
            worker.close()


def test_an_event_queued_when_the_runtime_exits_goes_to_a_new_runtime(make_bridge, go_runtimes):
    """aws-lambda-go posts a panic's error, then exits: the next event, offered before the exit and never
    taken, is answered by a new runtime, as Lambda starts one for it."""
    bridge = make_bridge("", binary=go_runtimes["chunked_go"], mode="runtime-api")
    pid = bridge.mode.child.pid
    with pytest.raises(errors.BinaryError) as caught:
        invoke(bridge, "panic")
    assert type(caught.value).__name__ == "errorString"
    assert invoke(bridge, 1)["echo"] == 1 and bridge.mode.child.pid != pid


def test_a_body_in_many_pieces_arrives_whole(server):
    delivery = delivered(server, "pieces")
    host, port = server.address.split(":")
    body = b'{"piece":"' + b"x" * 5000 + b'"}'
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(post_head("pieces", f"Content-Length: {len(body)}"))
        for start in range(0, len(body), 700):
            sock.sendall(body[start:start + 700])
            time.sleep(0.001)  # separate segments
        assert sock.recv(1 << 16).startswith(b"HTTP/1.1 202 ")
    wait_done(delivery)
    assert delivery.answer == body


def test_expect_with_the_body_sent_at_once_gets_no_interim_answer(server):
    delivery = delivered(server, "e3")
    answer = raw_exchange(server, post_head("e3", "Content-Length: 2", "Expect: 100-continue", "Connection: close")
                          + b"{}")
    assert answer.startswith(b"HTTP/1.1 202 ") and b"100 Continue" not in answer
    wait_done(delivery)
    assert delivery.answer == b"{}"


def test_a_body_of_exactly_the_limit_is_taken(server):
    delivery = delivered(server, "limit")
    answer = raw_exchange(server, post_head("limit", f"Content-Length: {MAX_PAYLOAD}", "Connection: close")
                          + b"x" * MAX_PAYLOAD)
    assert answer.startswith(b"HTTP/1.1 202 ")
    wait_done(delivery)
    assert len(delivery.answer) == MAX_PAYLOAD


def test_an_error_body_trailer_that_is_not_base64_is_taken_as_text(server):
    delivery = delivered(server, "t2")
    head = post_head("t2", "Transfer-Encoding: chunked", "Connection: close")
    answer = raw_exchange(server, head + b"1\r\n{\r\n0\r\nLambda-Runtime-Function-Error-Type: T.Err\r\n"
                          b"Lambda-Runtime-Function-Error-Body: not base64!\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 202 ")
    wait_done(delivery)
    assert delivery.outcome == "error" and delivery.answer == b"not base64!" and delivery.error_type == "T.Err"


def test_a_refused_or_accepted_post_keeps_the_connection_for_the_next_request(server):
    """400 and 202 answer a request, not the connection: a keep-alive client goes on using it."""
    delivery = delivered(server, "k1")
    host, port = server.address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(post_head("unknown-id", "Content-Length: 2") + b"{}")
        first = sock.recv(1 << 16)
        assert first.startswith(b"HTTP/1.1 400 ") and b"Connection: close" not in first
        sock.sendall(post_head("k1", "Content-Length: 2") + b"{}")
        accepted = sock.recv(1 << 16)
        assert accepted.startswith(b"HTTP/1.1 202 ") and b"Connection: close" not in accepted
        sock.sendall(b"GET /2018-06-01/runtime/nonsense HTTP/1.1\r\nHost: x\r\n\r\n")  # and still open after it
        assert sock.recv(1 << 16).startswith(b"HTTP/1.1 400 ")
    wait_done(delivery)
    assert delivery.outcome == "response"


def test_a_delivery_withdrawn_before_any_next_is_never_handed_out(server):
    queued = Delivery("q1", b'"never"', {"Lambda-Runtime-Aws-Request-Id": "q1"})
    server.offer(queued)
    server.withdraw(queued)
    server.offer(Delivery("q2", b'"this one"', {"Lambda-Runtime-Aws-Request-Id": "q2"}))
    assert b'"this one"' in raw_exchange(server, NEXT, read_until_close=False)
