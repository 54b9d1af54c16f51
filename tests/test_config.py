"""BRIDGE_* parsing: defaults, validation, immutability."""

from __future__ import annotations

import pytest

from bridge.config import Config
from bridge.errors import BridgeConfigError


def test_defaults():
    config = Config.from_environ("/task", {})
    assert config.mode == "oneshot"
    assert config.timeout_margin_ms == 500
    assert config.max_output_bytes == 6291456
    assert config.output == "json"
    assert config.stderr_is_error is False
    assert config.args == ()


def test_args_are_split_like_a_shell_but_never_run_by_one():
    config = Config.from_environ("/task", {"BRIDGE_ARGS": "--name 'two words' \"$HOME\" a\\ b ;"})
    assert config.args == ("--name", "two words", "$HOME", "a b", ";")


@pytest.mark.parametrize(
    "name, value",
    [
        ("BRIDGE_TIMEOUT_MARGIN_MS", "soon"),
        ("BRIDGE_TIMEOUT_MARGIN_MS", "-1"),
        ("BRIDGE_MAX_OUTPUT_BYTES", "0"),
        ("BRIDGE_OUTPUT", "xml"),
        ("BRIDGE_MODE", "turbo"),
        ("BRIDGE_STDERR_IS_ERROR", "maybe"),
        ("BRIDGE_ARGS", "'unclosed"),
        ("BRIDGE_FRAMING", "json"),
        ("BRIDGE_HTTP", "sometimes"),
        ("BRIDGE_HTTP_ERRORS", "html"),
        ("BRIDGE_STDIN", "file"),
        ("BRIDGE_STDERR_LEVEL", "LOUD"),
        ("BRIDGE_BATCH", "all"),
        ("BRIDGE_BATCH_CONCURRENCY", "0"),
        ("BRIDGE_BATCH_ALL_FAILED", "ignore"),
        ("BRIDGE_RUNTIME_API", "direct"),
        ("BRIDGE_START", "later"),
        ("BRIDGE_SNAPSTART", "forget"),
        ("BRIDGE_ALLOW_UNKNOWN", "perhaps"),
        ("BRIDGE_CGI_PASS_ENV", "AWS REGION"),
        ("BRIDGE_CONTENT_TYPE", "html"),
    ],
)
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(BridgeConfigError) as caught:
        Config.from_environ("/task", {name: value})
    assert name in str(caught.value)


def test_frozen():
    config = Config.from_environ("/task", {})
    with pytest.raises(AttributeError):
        config.mode = "persistent"
    assert config.replace(output="text").output == "text" and config.output == "json"
