"""Real-world sample events (tests/events/, each one's source in SOURCES.json), each recognised for what it is:
HTTP proxy requests shaped for their integration or served through CGI, everything else passed through
to the binary untouched and returned unshaped. Also strict base64 bodies and unknown BRIDGE_* names."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from urllib.parse import parse_qsl

import pytest
from conftest import ROOT, invoke, settings_environ
from test_properties import assert_valid_proxy_response

from bridge import errors, http
from bridge.config import SETTINGS, Config

CORPUS = ROOT / "tests" / "events"
SOURCES = json.loads((CORPUS / "SOURCES.json").read_text())
SAMPLES = {name: json.loads((CORPUS / name).read_text()) for name in SOURCES}
HTTP = {name for name, about in SOURCES.items() if about["kind"] in ("api_gateway_v1", "api_gateway_v2",
                                                                     "function_url", "alb")}
FORMAT_OF = {"api_gateway_v1": http.api_gateway_v1, "api_gateway_v2": http.api_gateway_v2,
             "function_url": http.function_url, "alb": http.alb}
DUMP_ENV = ROOT / "tests" / "cgi" / "env_dump.py"


def test_every_sample_has_a_source_and_a_kind():
    assert sorted(p.name for p in CORPUS.glob("*.json") if p.name != "SOURCES.json") == sorted(SOURCES)
    assert all(about["source"].startswith("https://") for about in SOURCES.values())
    assert {about["kind"] for about in SOURCES.values()} >= {"authorizer", "websocket", "other", *FORMAT_OF}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_each_sample_is_recognised_for_what_it_is(name):
    kind = SOURCES[name]["kind"]
    assert http.detect(SAMPLES[name]) is FORMAT_OF.get(kind)


@pytest.mark.parametrize("name", sorted(HTTP))
def test_no_http_request_lacks_a_request_context(name):
    """The bridge imports its HTTP package only for events with a ``requestContext``: no format may match
    one without it."""
    event = {key: value for key, value in SAMPLES[name].items() if key != "requestContext"}
    assert [fmt for fmt in http.FORMATS if fmt.matches(event)] == []


def test_a_function_that_gets_no_http_event_never_imports_the_http_package(binaries):
    script = ("import sys; from bridge.bridge import Bridge; from bridge.context import LocalContext\n"
              "bridge = Bridge.from_environ('.')\n"
              "assert bridge.invoke({'Records': []}, LocalContext()) == {'Records': []}\n"
              "print('bridge.http' in sys.modules)")
    environ = settings_environ(BRIDGE_BINARY=str(binaries["misbehave"]), BRIDGE_ARGS="echo")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=environ,
                          timeout=60)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize("name", sorted(set(SOURCES) - HTTP))
def test_everything_else_reaches_the_binary_unchanged_and_comes_back_unshaped(make_bridge, name):
    event = SAMPLES[name]
    assert invoke(make_bridge("echo"), copy.deepcopy(event)) == event  # a policy or any answer: not a 200


@pytest.mark.parametrize("name", sorted(HTTP))
@pytest.mark.parametrize("output", ["echo", "invalid", "bytes"])  # JSON, text, raw bytes
def test_http_samples_get_a_valid_response_for_their_format(make_bridge, name, output):
    response = invoke(make_bridge(output), copy.deepcopy(SAMPLES[name]))
    assert_valid_proxy_response(SOURCES[name]["kind"], response)
    assert response["statusCode"] == 200


def headers_of(event: dict) -> dict[str, str]:
    multi = event.get("multiValueHeaders")
    if multi:
        return {k: ", ".join(v) for k, v in multi.items()}
    return dict(event.get("headers") or {})


@pytest.mark.parametrize("name", sorted(HTTP))
def test_cgi_variables_match_the_event_exactly(make_bridge, name):
    event = SAMPLES[name]
    response = invoke(make_bridge("", binary=DUMP_ENV, mode="cgi"), copy.deepcopy(event))
    body = response["body"] if not response["isBase64Encoded"] else base64.b64decode(response["body"]).decode()
    seen = json.loads(body)
    env = seen["env"]
    method = event.get("httpMethod") or event["requestContext"]["http"]["method"]
    path = event.get("rawPath") or event.get("path")
    assert env["REQUEST_METHOD"] == method and env["PATH_INFO"] == path
    query = event.get("rawQueryString")
    if query is None:
        multi = event.get("multiValueQueryStringParameters") or {}
        expected_pairs = sorted((k, v) for k, vs in multi.items() for v in vs)
        assert sorted(parse_qsl(env["QUERY_STRING"])) == expected_pairs
    else:
        assert env["QUERY_STRING"] == query
    for header, value in headers_of(event).items():
        key = "HTTP_" + header.upper().replace("-", "_")
        if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            assert env[key] == value, header
    if event.get("cookies"):
        assert env["HTTP_COOKIE"] == "; ".join(event["cookies"])
    assert seen["body"] == (event.get("body") or "")


def test_a_body_flagged_base64_that_is_not_is_a_typed_error_or_a_400(make_bridge):
    event = copy.deepcopy(SAMPLES["http_api_proxy_v2.json"])
    event.update(body="not base64!", isBase64Encoded=True)
    with pytest.raises(errors.InvalidRequest):
        invoke(make_bridge("echo", stdin="body"), copy.deepcopy(event))
    response = invoke(make_bridge("echo", stdin="body", http_errors="response"), copy.deepcopy(event))
    assert response["statusCode"] == 400 and json.loads(response["body"])["errorType"] == "InvalidRequest"
    event["body"] = "aGVsbG8=x"  # a valid prefix and one stray character: the lenient decoder dropped it
    with pytest.raises(errors.InvalidRequest):
        invoke(make_bridge("echo", stdin="body"), event)


@pytest.mark.parametrize("typo, suggestion", [("BRIDGE_TIMEOUT_MS", "BRIDGE_TIMEOUT_MARGIN_MS"),
                                              ("BRIDGE_MODES", "BRIDGE_MODE"), ("BRIDGE_FUTURE_THING", None)])
def test_unknown_bridge_variables_fail_the_init_naming_the_closest(typo, suggestion):
    with pytest.raises(errors.BridgeConfigError) as caught:
        Config.from_environ("/task", {typo: "1"})
    assert typo in str(caught.value)
    hint = f"did you mean {suggestion}?" if suggestion else "did you mean"
    assert (hint in str(caught.value)) == bool(suggestion)


def test_allow_unknown_makes_it_a_warning(capfd):
    config = Config.from_environ("/task", {"BRIDGE_MODES": "persistent", "BRIDGE_ALLOW_UNKNOWN": "1"})
    assert config.mode == "oneshot" and "BRIDGE_MODES" in capfd.readouterr().err


def test_the_readme_documents_every_setting_and_no_other():
    readme = (ROOT / "README.md").read_text()
    table = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| `BRIDGE_")}
    assert table == set(SETTINGS)
