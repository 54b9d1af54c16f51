"""CGI mode as a hostile client meets it: what a request can inject into a legacy CGI program's environment,
and what of the function's own environment the program can leak. The program is the classic printenv
script (tests/cgi/printenv.pl), so every assertion is about what it really saw."""

from __future__ import annotations

import json
import re

import pytest
from conftest import ROOT, invoke, sample_event

from bridge import errors
from bridge.config import Config
from bridge.context import LocalContext
from bridge.modes.cgi import MAX_FIELD_BYTES, MAX_HEADERS

PRINTENV = ROOT / "tests" / "cgi" / "printenv.pl"
SECRETS = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret/key",
           "AWS_SESSION_TOKEN": "token==", "DB_URL": "postgres://u:p@db/x", "OTHER_SETTING": "x"}
# RFC 3875's meta-variables, the base every request starts from, and the call's own variables.
ALLOWED = {"GATEWAY_INTERFACE", "SERVER_SOFTWARE", "SERVER_PROTOCOL", "SERVER_NAME", "SERVER_PORT",
           "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "REQUEST_URI", "REMOTE_ADDR",
           "CONTENT_TYPE", "CONTENT_LENGTH", "HTTPS", "PATH", "LD_LIBRARY_PATH", "LANG", "TZ", "TMPDIR", "HOME",
           "LAMBDA_TASK_ROOT", "LAMBDA_REQUEST_ID", "LAMBDA_DEADLINE_MS", "_X_AMZN_TRACE_ID"}


@pytest.fixture
def cgi(make_bridge, monkeypatch):
    """A CGI bridge over printenv in a function whose environment holds live credentials."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return lambda **settings: make_bridge("", binary=PRINTENV, mode="cgi", **settings)


def http_event(**headers: str) -> dict:
    event = sample_event("api_gateway_v2")
    event["headers"].update(headers)
    return event


def seen(bridge, event: dict) -> dict[str, str]:
    response = invoke(bridge, event)
    assert response["statusCode"] == 200, response
    return json.loads(response["body"])


def test_the_environment_is_the_meta_variables_the_headers_and_a_short_base(cgi):
    env = seen(cgi(), http_event())
    assert {name for name in env if not name.startswith("HTTP_")} <= ALLOWED
    assert not set(SECRETS) & set(env)  # the function's credentials never reach the program
    assert env["SERVER_NAME"] == "r3pmxmplak.execute-api.eu-west-1.amazonaws.com"
    assert env["SERVER_PORT"] == "443" and env["HTTPS"] == "on" and env["REMOTE_ADDR"] == "203.0.113.9"
    assert env["CONTENT_LENGTH"] == str(len(b'{"item": "widget", "qty": 2}'))
    assert env["REQUEST_METHOD"] == "POST" and env["PATH_INFO"] == "/orders/42"
    assert env["HTTP_USER_AGENT"] == "curl/8.5.0" and env["LAMBDA_REQUEST_ID"]


def test_named_variables_of_the_function_are_passed(cgi):
    env = seen(cgi(cgi_pass_env="AWS_REGION, AWS_*,DB_URL"), http_event())
    assert {name: env[name] for name in ("AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "DB_URL")} == {
        name: SECRETS[name] for name in ("AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "DB_URL")}
    assert "OTHER_SETTING" not in env


def test_a_passed_variable_cannot_shadow_a_meta_variable(cgi, monkeypatch):
    monkeypatch.setenv("REQUEST_METHOD", "DELETE")
    env = seen(cgi(cgi_pass_env="REQUEST_METHOD"), http_event())
    assert env["REQUEST_METHOD"] == "POST"


@pytest.mark.parametrize("name", ["Proxy", "proxy", "PROXY", "pRoXy"])
def test_a_proxy_header_never_becomes_http_proxy(cgi, capfd, name):
    env = seen(cgi(), http_event(**{name: "http://evil.example:8080"}))
    assert "HTTP_PROXY" not in env and "evil.example" not in json.dumps(env)
    assert f"dropped the request header '{name}'" in capfd.readouterr().err


def test_a_header_name_with_an_underscore_cannot_pose_as_a_hyphenated_one(cgi, capfd):
    env = seen(cgi(), http_event(**{"x-user": "alice", "x_user": "admin", "x.role": "superuser-role"}))
    assert env["HTTP_X_USER"] == "alice"  # not "alice, admin"
    assert "HTTP_X_ROLE" not in env and "superuser-role" not in json.dumps(env)
    warnings = [line for line in capfd.readouterr().err.splitlines() if "dropped the request header" in line]
    assert len(warnings) == 2 and "'x_user'" in warnings[0] + warnings[1] and "'x.role'" in warnings[0] + warnings[1]


def test_a_dropped_header_is_logged_once_per_call(cgi, capfd):
    event = sample_event("api_gateway_v1")
    event["multiValueHeaders"] = {**(event.get("multiValueHeaders") or {}), "x_user": ["a", "b", "c"]}
    event["headers"] = {**(event.get("headers") or {}), "x_user": "c"}
    response = invoke(cgi(), event)
    assert response["statusCode"] == 200
    assert capfd.readouterr().err.count("dropped the request header 'x_user'") == 1


@pytest.mark.parametrize(("change", "why"), [
    (lambda e: e["headers"].update({"x-note": "line\r\nX-Injected: 1"}), "CR LF in a header value"),
    (lambda e: e["headers"].update({"x-note": "nul\x00byte"}), "NUL in a header value"),
    (lambda e: e["headers"].update({f"x-h{n}": "v" for n in range(MAX_HEADERS)}), "a flood of headers"),
    (lambda e: e["headers"].update({"x-big": "v" * MAX_FIELD_BYTES}), "a header over Apache's field limit"),
    (lambda e: e["requestContext"]["http"].update(method="GET /admin"), "a method that is no token"),
    (lambda e: e.update(rawPath="/orders/\n42"), "a path with a newline"),
    (lambda e: e.update(rawQueryString="a=\x001"), "a query string with NUL"),
])
def test_a_request_no_web_server_passes_on_is_a_400_and_the_program_never_runs(cgi, capfd, change, why):
    event = http_event()
    change(event)
    response = invoke(cgi(), event)
    assert response["statusCode"] == 400, why
    assert response["body"] == "400 Bad Request\n"  # the bridge's answer: printenv would answer JSON
    assert response["headers"]["Content-Type"] == "text/plain; charset=utf-8"
    assert "answering 400 without running the CGI program" in capfd.readouterr().err


def test_a_tab_in_a_header_value_is_fine(cgi):
    assert seen(cgi(), http_event(**{"x-note": "a\tb"}))["HTTP_X_NOTE"] == "a\tb"


@pytest.mark.parametrize("value", ["AWS REGION", "AWS_REGION;rm", "1ABC", "A=B"])
def test_a_pass_env_that_names_no_variable_fails_the_init(value):
    with pytest.raises(errors.BridgeConfigError, match="BRIDGE_CGI_PASS_ENV"):
        Config.from_environ(str(ROOT), {"BRIDGE_CGI_PASS_ENV": value})


def test_other_modes_keep_the_functions_environment(make_bridge, binaries, monkeypatch):
    monkeypatch.setenv("FUNCTION_SETTING", "kept")
    assert invoke(make_bridge("env"), {})["FUNCTION_SETTING"] == "kept"


# The meta-variables themselves, from crafted requests (bridge.modes.cgi.meta_variables).

from bridge.http.common import Request  # noqa: E402
from bridge.modes.cgi import BadRequest, meta_variables  # noqa: E402


def request(headers=(), method="POST", path="/a/b", query="x=1&y=2", body=b"12345", port="443", host="") -> Request:
    return Request(method, path, query, list(headers), body, "198.51.100.7", "HTTP/1.1", host, port)


def test_the_rfc_3875_meta_variables_of_a_request():
    env, dropped = meta_variables(request([("Host", "example.org:8443"), ("Content-Type", "text/plain"),
                                           ("Content-Length", "5"), ("Accept", "a/b"), ("accept", "c/d"),
                                           ("Cookie", "a=1"), ("Cookie", "b=2"), ("X-Forwarded-Proto", "http")],
                                          port="8443"))
    assert dropped == []
    assert {k: v for k, v in env.items() if not k.startswith("HTTP_")} == {
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "exec-bridge", "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": "example.org", "SERVER_PORT": "8443", "REQUEST_METHOD": "POST", "SCRIPT_NAME": "",
        "PATH_INFO": "/a/b", "QUERY_STRING": "x=1&y=2", "REQUEST_URI": "/a/b?x=1&y=2", "REMOTE_ADDR": "198.51.100.7",
        "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "5"}  # no HTTPS: neither port 443 nor forwarded https
    assert env["HTTP_ACCEPT"] == "a/b, c/d" and env["HTTP_COOKIE"] == "a=1; b=2"  # repeats joined, cookies with ;
    assert env["HTTP_HOST"] == "example.org:8443" and env["HTTP_X_FORWARDED_PROTO"] == "http"


@pytest.mark.parametrize(("proto", "port", "https"), [("https", "8443", True), ("http", "443", True),
                                                       ("", "80", False), ("http", "80", False)])
def test_https_is_on_for_a_forwarded_https_request_or_port_443(proto, port, https):
    env, _ = meta_variables(request([("X-Forwarded-Proto", proto)] if proto else [], port=port))
    assert ("HTTPS" in env) is https and env.get("HTTPS", "on") == "on"


def test_without_a_query_or_a_body():
    env, _ = meta_variables(request(query="", body=b"", method="GET"))
    assert env["REQUEST_URI"] == "/a/b" and env["QUERY_STRING"] == "" and "CONTENT_LENGTH" not in env


def test_every_name_character_a_web_server_passes_is_kept():
    name = "Aa0-Zz9"
    env, dropped = meta_variables(request([(name, "v")]))
    assert env["HTTP_AA0_ZZ9"] == "v" and dropped == []


@pytest.mark.parametrize(("headers", "why"), [
    ([("x-h", "v")] * MAX_HEADERS, None),
    ([("x-h", "v")] * (MAX_HEADERS + 1), f"{MAX_HEADERS + 1} header fields, more than {MAX_HEADERS}"),
    ([("x-h", "v" * (MAX_FIELD_BYTES - 5))], None),  # name, ": " and value: exactly the limit
    ([("x-h", "v" * (MAX_FIELD_BYTES - 4))], f"the header 'x-h' is over {MAX_FIELD_BYTES} bytes"),
    ([("x-h", "a\x7fb")], "the header 'x-h' holds control characters"),
    ([("x\x01h", "v")], "holds control characters"),
])
def test_the_limits_a_web_server_keeps_hold_at_their_edges(headers, why):
    if why is None:
        meta_variables(request(headers))
        return
    with pytest.raises(BadRequest, match=re.escape(why)):
        meta_variables(request(headers))


@pytest.mark.parametrize(("change", "why"), [
    ({"method": "GET!"}, None), ({"method": "G T"}, "the method 'G T' is not an HTTP token"),
    ({"path": "/a\nb"}, "the path or the query string holds control characters"),
    ({"host": "exa\0mple.org"}, "a request field holds a NUL character"),
])
def test_a_method_path_or_host_no_server_passes_is_refused_saying_why(change, why):
    if why is None:
        assert meta_variables(request(**change))[0]["REQUEST_METHOD"] == change["method"]
        return
    with pytest.raises(BadRequest, match=re.escape(why)):
        meta_variables(request(**change))


def test_the_calls_own_variables_reach_a_cgi_program(cgi):
    context = LocalContext()
    context.tenant_id = "tenant-9"
    env = json.loads(cgi().invoke(http_event(), context)["body"])
    assert env["LAMBDA_TENANT_ID"] == "tenant-9" and env["LAMBDA_REQUEST_ID"] == context.aws_request_id
    assert int(env["LAMBDA_DEADLINE_MS"]) > 0 and env["_X_AMZN_TRACE_ID"].startswith("Root=")
