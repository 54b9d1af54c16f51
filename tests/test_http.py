"""HTTP front doors: format detection, response shaping per format, body stdin, error responses, CGI."""

from __future__ import annotations

import base64
import copy
import json
import sys
from urllib.parse import unquote

import pytest
from conftest import ROOT, invoke, sample_event

from bridge import errors, http

EVENTS = {name: sample_event(name) for name in
          ("api_gateway_v1", "api_gateway_v2", "function_url", "alb", "alb_multi_value")}
FORMATS = {"api_gateway_v1": http.api_gateway_v1, "api_gateway_v2": http.api_gateway_v2,
           "function_url": http.function_url, "alb": http.alb, "alb_multi_value": http.alb}


def body_of(response: dict) -> bytes:
    if response["isBase64Encoded"]:
        return base64.b64decode(response["body"])
    return response["body"].encode()


def header(response: dict, name: str) -> str:
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name.lower():
            return value
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower():
            return values[-1]
    raise KeyError(name)


def assert_format_rules(name: str, response: dict) -> None:
    """Each integration's own response contract."""
    assert isinstance(response["statusCode"], int)
    assert isinstance(response["body"], str) and isinstance(response["isBase64Encoded"], bool)
    if name.startswith("alb"):
        assert response["statusDescription"].startswith(str(response["statusCode"]))
        assert ("multiValueHeaders" in response) == (name == "alb_multi_value")
        assert ("headers" in response) != (name == "alb_multi_value")
    elif name == "api_gateway_v1":
        assert set(response) <= {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
    else:
        assert set(response) <= {"statusCode", "headers", "cookies", "body", "isBase64Encoded"}
        assert all(isinstance(v, str) for v in response["headers"].values())


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_detection(name):
    assert http.detect(EVENTS[name]) is FORMATS[name]


@pytest.mark.parametrize("event", [{}, {"body": "x"}, [1], "s", {"requestContext": {}}, {"version": "2.0"}])
def test_other_events_are_not_http(event):
    assert http.detect(event) is None


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_json_output_is_wrapped(make_bridge, name):
    response = invoke(make_bridge("no-read"), EVENTS[name])
    assert_format_rules(name, response)
    assert response["statusCode"] == 200
    assert header(response, "content-type") == "application/json"
    assert json.loads(body_of(response)) == {"ok": True}


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_bytes_round_trip_through_base64(make_bridge, name):
    response = invoke(make_bridge("bytes"), EVENTS[name])
    assert_format_rules(name, response)
    assert response["isBase64Encoded"] is True
    assert header(response, "content-type") == "application/octet-stream"
    assert body_of(response) == bytes(range(256))


def test_text_output(make_bridge):
    response = invoke(make_bridge("invalid", output="text"), EVENTS["api_gateway_v1"])
    assert header(response, "content-type") == "text/plain; charset=utf-8"
    assert response["body"] == "this is not JSON {" and response["isBase64Encoded"] is False


def test_non_json_output_in_json_mode_is_text_for_http(make_bridge):
    response = invoke(make_bridge("invalid"), EVENTS["api_gateway_v2"])
    assert response["statusCode"] == 200 and response["body"] == "this is not JSON {"


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_ready_made_proxy_response_passes_through(make_bridge, name):
    response = invoke(make_bridge("proxy 201"), EVENTS[name])
    assert response["statusCode"] == 201 and response["body"] == "made"
    if name == "alb_multi_value":  # such a target group reads only multiValueHeaders: moved there, not lost
        assert response["multiValueHeaders"] == {"X-Made-By": ["binary"]} and "headers" not in response
    else:
        assert response["headers"] == {"X-Made-By": "binary"}
    if name.startswith("alb"):
        assert response["statusDescription"] == "201 Created"


def test_malformed_proxy_response_fails_clearly(make_bridge):
    with pytest.raises(errors.InvalidOutput) as caught:
        invoke(make_bridge('proxy "\\"soon\\""'), EVENTS["api_gateway_v1"])
    assert "statusCode" in str(caught.value)


def test_stdin_body_sends_the_decoded_body(make_bridge):
    response = invoke(make_bridge("echo", stdin="body"), EVENTS["api_gateway_v2"])  # base64 in the event
    assert json.loads(body_of(response)) == {"item": "widget", "qty": 2}


def test_errors_stay_lambda_errors_by_default(make_bridge):
    with pytest.raises(errors.BinaryExitError):
        invoke(make_bridge("exit 3"), EVENTS["api_gateway_v1"])


def test_errors_as_http_responses(make_bridge):
    response = invoke(make_bridge("exit 3", http_errors="response"), EVENTS["alb"])
    assert response["statusCode"] == 502 and response["statusDescription"] == "502 Bad Gateway"
    assert json.loads(body_of(response))["errorType"] == "BinaryExitError"
    response = invoke(make_bridge("sleep 30", http_errors="response", timeout_margin_ms="500"),
                      EVENTS["api_gateway_v1"], timeout=1.0)
    assert response["statusCode"] == 504


def test_http_off_leaves_the_output_alone(make_bridge):
    assert invoke(make_bridge("no-read", http="off"), EVENTS["api_gateway_v1"]) == {"ok": True}


def test_non_http_events_are_untouched(make_bridge):
    assert invoke(make_bridge("echo"), {"body": "x", "headers": {}}) == {"body": "x", "headers": {}}


# CGI mode with real third-party CGI implementations.

CGI_PROGRAMS = {
    "perl CGI.pm": ("/usr/bin/perl", str(ROOT / "tests" / "cgi" / "cgi_pm.pl")),
    "wsgiref CGIHandler": (sys.executable, str(ROOT / "tests" / "cgi" / "wsgi_app.py")),
}


@pytest.fixture(params=sorted(CGI_PROGRAMS))
def cgi(request, make_bridge):
    binary, script = CGI_PROGRAMS[request.param]
    return make_bridge(script, binary=binary, mode="cgi")


def http_event(name: str, method: str, path: str, query: str = "", body: bytes = b"", content_type: str = "") -> dict:
    """A sample event of format ``name`` turned into the request wanted."""
    event = copy.deepcopy(EVENTS[name])
    encoded = base64.b64encode(body).decode() if body else ""
    if name in ("api_gateway_v2", "function_url"):
        event["requestContext"]["http"].update(method=method, path=path)
        event["rawPath"], event["rawQueryString"] = path, query
        if content_type:
            event["headers"]["content-type"] = content_type
    else:
        event.update(httpMethod=method, path=path)
        pairs = [p.split("=", 1) for p in query.split("&") if p]
        if name == "api_gateway_v1":  # API Gateway REST hands query values over decoded; ALB does not
            pairs = [(k, unquote(v)) for k, v in pairs]
        if "multiValueHeaders" in event:
            event["multiValueQueryStringParameters"] = {}
            for k, v in pairs:
                event["multiValueQueryStringParameters"].setdefault(k, []).append(v)
            if content_type:
                event["multiValueHeaders"]["Content-Type"] = [content_type]
            event.pop("headers", None) if name == "alb_multi_value" else None
            if name == "api_gateway_v1":
                event["headers"]["Content-Type"] = content_type or "application/json"
        else:
            event["queryStringParameters"] = dict(pairs)
            if content_type:
                event["headers"]["content-type"] = content_type
    event["body"], event["isBase64Encoded"] = encoded, bool(body)
    return event


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_cgi_get_with_query_string(cgi, name):
    response = invoke(cgi, http_event(name, "GET", "/hello", "x=1&y=caf%C3%A9"))
    assert_format_rules(name, response)
    assert response["statusCode"] == 200
    reply = json.loads(body_of(response))
    assert reply["method"] == "GET" and reply["path"] == "/hello"
    values = reply.get("params") or reply.get("query")
    assert values["x"] == ["1"] and values["y"] == ["café"]


def test_cgi_post_form(cgi):
    response = invoke(cgi, http_event("api_gateway_v1", "POST", "/form", body=b"name=Ada+Lovelace&lang=fr",
                                      content_type="application/x-www-form-urlencoded"))
    reply = json.loads(body_of(response))
    form = reply.get("params") or reply.get("form")
    assert reply["method"] == "POST" and form["name"] == ["Ada Lovelace"] and form["lang"] == ["fr"]


def test_cgi_binary_upload_round_trips(cgi):
    data = bytes(range(256)) * 40
    boundary = "exec-bridge-boundary"
    if "wsgi" in cgi.program.argv[1]:
        body, content_type = data, "application/octet-stream"
    else:
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob.bin\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        content_type = f"multipart/form-data; boundary={boundary}"
    response = invoke(cgi, http_event("api_gateway_v2", "POST", "/upload", body=body, content_type=content_type))
    assert response["statusCode"] == 200 and response["isBase64Encoded"] is True
    assert body_of(response) == data


@pytest.mark.parametrize("name", ["api_gateway_v1", "alb"])
def test_cgi_redirect(cgi, name):
    response = invoke(cgi, http_event(name, "GET", "/redirect"))
    assert response["statusCode"] in (301, 302)
    assert header(response, "location") in ("https://example.com/elsewhere", "/new-home")


def test_a_location_without_a_status_is_a_302(make_bridge):
    """RFC 3875: a client redirect may be a Location field alone; the server answers it 302."""
    bridge = make_bridge("""-c 'printf "Location: /new-home\\r\\n\\r\\n"'""", binary="/bin/sh", mode="cgi")
    response = invoke(bridge, http_event("api_gateway_v2", "GET", "/old"))
    assert response["statusCode"] == 302 and header(response, "location") == "/new-home"


def test_cgi_not_found(cgi):
    response = invoke(cgi, http_event("alb", "GET", "/missing"))
    assert response["statusCode"] == 404 and response["statusDescription"] == "404 Not Found"
    assert b"no" in body_of(response)


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_cgi_non_ascii_headers_and_cookies(cgi, name):
    response = invoke(cgi, http_event(name, "GET", "/hello"))
    assert header(response, "x-greeting") == "héllo"
    if name in ("api_gateway_v2", "function_url"):
        assert sorted(c.split(";")[0] for c in response["cookies"]) == ["a=1", "b=2"]
    elif name != "alb":  # v1 and multi-value ALB keep both Set-Cookie values; single-value ALB keeps one
        cookies = next(v for k, v in response["multiValueHeaders"].items() if k.lower() == "set-cookie")
        assert sorted(c.split(";")[0] for c in cookies) == ["a=1", "b=2"]


def test_cgi_request_cookies_reach_the_program(cgi):
    reply = json.loads(body_of(invoke(cgi, http_event("api_gateway_v2", "GET", "/hello"))))
    assert reply["cookie"] == "session=abc123; theme=dark"


def test_malformed_cgi_output_is_a_502(make_bridge, capfd):
    response = invoke(make_bridge("invalid", mode="cgi"), EVENTS["api_gateway_v1"])
    assert response["statusCode"] == 502
    assert "malformed CGI response" in capfd.readouterr().err


def test_cgi_mode_refuses_non_http_events(make_bridge):
    with pytest.raises(errors.UnsupportedEvent):
        invoke(make_bridge("echo", mode="cgi"), {"not": "http"})


def expected_request(name: str, event: dict) -> dict:
    """What each format's request is, read from its own fields (the integrations' documented shapes)."""
    if name in ("api_gateway_v2", "function_url"):
        http = event["requestContext"]["http"]
        return {"method": http["method"], "path": event["rawPath"], "query": event["rawQueryString"],
                "source_ip": http["sourceIp"], "protocol": http["protocol"],
                "host": event["requestContext"]["domainName"], "port": event["headers"].get("x-forwarded-port", "443"),
                "cookie": "; ".join(event.get("cookies", [])) or None}
    if name == "api_gateway_v1":
        return {"method": event["httpMethod"], "path": event["path"], "query": "verbose=1&tag=a+b&tag=b",
                "source_ip": event["requestContext"]["identity"]["sourceIp"],
                "protocol": event["requestContext"]["protocol"], "host": event["requestContext"]["domainName"],
                "port": event["headers"]["X-Forwarded-Port"], "cookie": None}
    headers = event.get("headers") or {k: v[-1] for k, v in event["multiValueHeaders"].items()}
    cookies = event.get("multiValueHeaders", {}).get("cookie") or ([headers["cookie"]] if "cookie" in headers else [])
    return {"method": event["httpMethod"], "path": event["path"], "query": EVENT_QUERIES[name],
            "source_ip": headers["x-forwarded-for"], "protocol": "HTTP/1.1", "host": headers["host"],
            "port": headers["x-forwarded-port"], "cookie": "; ".join(cookies) or None}


EVENT_QUERIES = {"alb": "q=caf%C3%A9&page=2", "alb_multi_value": "q=caf%C3%A9&tag=a&tag=b"}


@pytest.mark.parametrize("name", ["api_gateway_v1", "api_gateway_v2", "function_url", "alb", "alb_multi_value"])
def test_each_format_reads_its_request_field_by_field(name):
    event = sample_event(name)
    request = http.front_door(event).request()
    expected = expected_request(name, event)
    cookie = "; ".join(v for k, v in request.headers if k.lower() == "cookie") or None
    assert {"method": request.method, "path": request.path, "query": request.query, "source_ip": request.source_ip,
            "protocol": request.protocol, "host": request.host, "port": request.port, "cookie": cookie} == expected


def test_a_minimal_http_api_event_reads_with_the_defaults():
    event = {"version": "2.0", "rawPath": "", "requestContext": {"http": {}, "domainName": ""}, "headers": {}}
    request = http.front_door(event).request()
    assert (request.method, request.path, request.query, request.source_ip, request.protocol, request.body) == (
        "GET", "/", "", "", "HTTP/1.1", b"")
    assert request.host == "localhost" and request.port == "443"


@pytest.mark.parametrize("name", ["api_gateway_v2", "function_url"])
def test_payload_2_takes_the_raw_path_and_its_own_protocol(name):
    event = sample_event(name)
    event["requestContext"]["http"].update(protocol="HTTP/2.0", path="/decoded path")
    event["rawPath"] = "/raw%20path"
    request = http.front_door(event).request()
    assert (request.path, request.protocol) == ("/raw%20path", "HTTP/2.0")
    del event["rawPath"]
    assert http.front_door(event).request().path == "/decoded path"  # without rawPath, the request context's


@pytest.mark.parametrize(("marker", "where"), [
    ({"methodArn": "arn:aws:execute-api:x"}, None), ({"routeArn": "arn:aws:execute-api:y"}, None),
    ({"type": "REQUEST"}, None), ({"type": "TOKEN"}, None),
    ({"eventType": "CONNECT"}, "requestContext"), ({"connectionId": "abc="}, "requestContext"),
])
def test_each_authorizer_or_websocket_marker_alone_passes_the_event_through(marker, where):
    """Any one of them makes an otherwise ordinary HTTP API event an authorizer's or a WebSocket's, whose
    integration expects the binary's own answer."""
    event = sample_event("api_gateway_v2")
    assert http.detect(event) is not None  # without it: a proxy request
    (event["requestContext"] if where else event).update(marker)
    assert http.detect(event) is None


@pytest.mark.parametrize(("error", "status"), [(errors.BinaryTimeout("late"), 504),
                                                (errors.InvalidRequest("bad body"), 400),
                                                (errors.BinaryExitError("status 3"), 502)])
def test_an_error_response_says_which_error_in_its_status_and_body(error, status):
    response = http.error_response(error)
    assert response.status == status and ("Content-Type", "application/json") in response.headers
    assert json.loads(response.body) == {"errorType": type(error).__name__, "errorMessage": str(error)}


@pytest.mark.parametrize(("result", "content_type", "body"), [
    ("plain text", "text/plain; charset=utf-8", "plain text"),
    (b"\x89PNG\r\n\x1a\n\xff", "image/png", base64.b64encode(b"\x89PNG\r\n\x1a\n\xff").decode()),
    (b"\xff\x00 raw", "application/octet-stream", base64.b64encode(b"\xff\x00 raw").decode()),
    ({"json": [1]}, "application/json", '{"json":[1]}'),
])
def test_a_decoded_result_becomes_a_200_of_its_own_type(result, content_type, body):
    response = http.front_door(sample_event("api_gateway_v2")).value(result)
    assert response["statusCode"] == 200 and response["headers"] == {"Content-Type": content_type}
    assert response["body"] == body and response["isBase64Encoded"] is isinstance(result, bytes)


def test_bridge_content_type_output_is_a_200():
    door = http.front_door(sample_event("api_gateway_v2"), "text/html; charset=utf-8")
    response = door.output(b"<p>hi</p>", json_output=True)
    assert response["statusCode"] == 200 and response["headers"] == {"Content-Type": "text/html; charset=utf-8"}


def test_a_proxy_response_of_its_own_is_finished_for_the_event_it_answers():
    """An ALB target group with multi-value headers gets multiValueHeaders and a statusDescription, whether the
    response came as stdout or as a decoded value."""
    door = http.front_door(sample_event("alb_multi_value"))
    own = {"statusCode": 404, "headers": {"X-Own": "yes"}, "body": "gone"}
    for response in (door.output(json.dumps(own).encode(), json_output=True), door.value(dict(own))):
        assert response["statusCode"] == 404 and response["statusDescription"] == "404 Not Found"
        assert response["multiValueHeaders"]["X-Own"] == ["yes"] and response["body"] == "gone"


def test_a_single_value_alb_gets_the_headers_a_binary_gave_as_multi_value():
    door = http.front_door(sample_event("alb"))
    response = door.value({"statusCode": 200, "multiValueHeaders": {"X-Own": ["a", "b"]}, "body": ""})
    assert response["headers"] == {"X-Own": "b"} and "multiValueHeaders" not in response
