"""Files in, files out (BRIDGE_ARGS naming {input} and {output}), and the content type of what a program
prints when it cannot say (BRIDGE_CONTENT_TYPE, else sniffed)."""

from __future__ import annotations

import base64

import pytest
from conftest import ROOT, invoke, sample_event

from bridge import errors, http
from bridge.config import Config


@pytest.fixture
def files_bridge(make_bridge, monkeypatch, tmp_path):
    """A bridge over /bin/sh whose call directories go under tmp_path, checked empty after each test."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    yield lambda args, **settings: make_bridge(args, binary="/bin/sh", **settings)
    assert list(tmp_path.iterdir()) == []  # every call's directory removed, whatever happened


def test_the_payload_goes_in_a_file_and_the_reply_comes_from_one(files_bridge):
    bridge = files_bridge("""-c 'cp "$1" "$2"' sh {input} {output.json}""")
    assert invoke(bridge, {"quote": "it's \"q\"", "n": [1, 2]}) == {"quote": "it's \"q\"", "n": [1, 2]}


def test_input_only_answers_with_stdout(files_bridge):
    bridge = files_bridge("""-c 'case "$1" in */input.txt) cat "$1";; esac' sh {input.txt}""")
    assert invoke(bridge, [1, 2]) == [1, 2]


def test_stdout_is_logged_when_the_reply_is_a_file(files_bridge, capfd):
    bridge = files_bridge("""-c 'echo converting now; cp "$1" "$2"' sh {input} {output}""")
    assert invoke(bridge, 7) == 7
    assert "converting now" in capfd.readouterr().err


def test_no_output_file_is_invalid_output(files_bridge):
    with pytest.raises(errors.InvalidOutput, match="wrote no {output} file"):
        invoke(files_bridge("-c true sh {output}"), {})


def test_a_failing_program_still_has_its_directory_removed(files_bridge):
    with pytest.raises(errors.BinaryExitError, match="status 3"):
        invoke(files_bridge("""-c 'exit 3' sh {input} {output}"""), {})


def test_an_output_file_over_the_cap_is_output_too_large(files_bridge):
    bridge = files_bridge("""-c 'head -c 5000 /dev/zero > "$1"' sh {output}""", max_output_bytes="4096")
    with pytest.raises(errors.OutputTooLarge):
        invoke(bridge, {})


SIGNATURES = [(b"\x89PNG\r\n\x1a\n....", "image/png"), (b"\xff\xd8\xff\xe0..", "image/jpeg"),
              (b"%PDF-1.7\n%\xe2\xe3", "application/pdf"), (b"GIF89a..", "image/gif"),
              (b"RIFF\x10\0\0\0WEBPVP8 ", "image/webp"), (b"PK\x03\x04\x14\0", "application/zip"),
              (b"\xff\x01\x02 nothing known", "")]


@pytest.mark.parametrize(("body", "kind"), SIGNATURES)
def test_common_binary_formats_are_sniffed(body, kind):
    assert http.sniff(body) == kind
    event = sample_event("api_gateway_v2")
    response = http.front_door(event).output(body, json_output=True)
    assert response["headers"]["Content-Type"] == (kind or "application/octet-stream")
    sent = base64.b64decode(response["body"]) if response["isBase64Encoded"] else response["body"].encode()
    assert sent == body  # byte-exact either way


def test_bridge_content_type_is_every_wrapped_output_s_type(make_bridge):
    bridge = make_bridge("echo", content_type="text/html; charset=utf-8")
    event = sample_event("api_gateway_v2")
    response = invoke(bridge, event)  # misbehave echoes the event: JSON, and yet its type is the one set
    assert response["headers"]["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("value", ["html", "text/", "/plain", "text/html\r\nX-Injected: 1"])
def test_a_content_type_that_is_no_media_type_fails_the_init(value):
    with pytest.raises(errors.BridgeConfigError, match="BRIDGE_CONTENT_TYPE"):
        Config.from_environ(str(ROOT), {"BRIDGE_CONTENT_TYPE": value})
