"""Configuration: the ``BRIDGE_*`` environment variables, read once per cold start into enums, frozen.

Each setting is named after its variable (``BRIDGE_HTTP_ERRORS`` is ``config.http_errors``) and each
choice is an enum documented where it is declared. A bad value fails the init phase with
``BridgeConfigError`` naming the variable, rather than failing later, per call. The README lists them all.
"""

from __future__ import annotations

import os
from enum import StrEnum

from .errors import BridgeConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: collections.abc and typing cost cold-start time
    from collections.abc import Mapping
    from typing import TypeVar

    E = TypeVar("E", bound=StrEnum)

LAMBDA_MAX_PAYLOAD = 6 * 1024 * 1024
INFO = 20  # logging.INFO, log_records.INFO: the default level of the binary's plain log lines

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class Mode(StrEnum):
    """``BRIDGE_MODE``: how the binary runs."""

    ONESHOT = "oneshot"  # a fresh process per invocation: the event on stdin, the reply all of stdout
    PERSISTENT = "persistent"  # one long-lived process, one framed message per invocation
    RUNTIME_API = "runtime-api"  # a custom-runtime bootstrap, served the Lambda Runtime API on loopback
    CGI = "cgi"  # a CGI program (RFC 3875) serves HTTP events, a process per request


class RuntimeApi(StrEnum):
    """``BRIDGE_RUNTIME_API``: how runtime-api mode runs a custom runtime's bootstrap."""

    HANDOFF = "handoff"  # exec the bootstrap in place of the interpreter: it is the runtime, as on provided.al2023
    PROXY = "proxy"  # keep the interpreter; serve the bootstrap a loopback Runtime API and relay each call


class Start(StrEnum):
    """``BRIDGE_START``: when a long-lived binary (persistent, runtime-api proxy) starts."""

    INIT = "init"  # during Lambda's init phase, which has a full CPU burst and fails the init if it cannot
    FIRST_CALL = "first-call"  # at the first invocation


class SnapStart(StrEnum):
    """``BRIDGE_SNAPSTART``: what a SnapStart restore does to a long-lived binary in the snapshot."""

    RESTART = "restart"  # replace it: a snapshot shares its memory (random seeds, connections) with every copy
    KEEP = "keep"  # keep it as restored


class Framing(StrEnum):
    """``BRIDGE_FRAMING``: how persistent mode tells one message from the next."""

    LINES = "lines"  # one JSON line in, one line out
    ENVELOPE = "envelope"  # {"id","context","event"} in, {"id","result"} or {"id","error"} out


class Output(StrEnum):
    """``BRIDGE_OUTPUT``: what the binary's stdout is."""

    JSON = "json"  # one JSON document, returned as the Python value (empty: null)
    TEXT = "text"  # UTF-8 text, returned as a string


class Http(StrEnum):
    """``BRIDGE_HTTP``: whether replies to HTTP events are shaped as their integration's response."""

    AUTO = "auto"  # API Gateway, ALB and Function URL events get a proxy response
    OFF = "off"  # replies are returned as for any event


class HttpErrors(StrEnum):
    """``BRIDGE_HTTP_ERRORS``: what a failed call answers to an HTTP event."""

    LAMBDA = "lambda"  # a typed Lambda error, as for any event
    RESPONSE = "response"  # a 502 (504 on timeout) with a JSON body


class Stdin(StrEnum):
    """``BRIDGE_STDIN``: what the binary reads on stdin."""

    EVENT = "event"  # the whole event as JSON
    BODY = "body"  # for HTTP events, the request body (base64-decoded); the event otherwise


class Batching(StrEnum):
    """``BRIDGE_BATCH``: how an SQS, Kinesis or DynamoDB Streams batch reaches the binary."""

    OFF = "off"  # the whole event, as any event
    RECORDS = "records"  # one run per record, answered with a partial batch response (bridge.batch)


class BatchAllFailed(StrEnum):
    """``BRIDGE_BATCH_ALL_FAILED``: what a batch whose every record failed answers."""

    RAISE = "raise"  # the BatchFailed error, which Lambda's error metrics and alarms count
    REPORT = "report"  # a partial batch response naming every record


def _choice(env: Mapping[str, str], name: str, default: E) -> E:
    kind = type(default)
    value = env.get(name, "").strip().lower() or default.value
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise BridgeConfigError(f"{name}={value!r}: expected one of {allowed}") from None


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BridgeConfigError(f"{name}={value!r}: expected 1/0, true/false, yes/no or on/off")


def _integer(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BridgeConfigError(f"{name}={raw!r}: expected a whole number") from None
    if value < minimum:
        raise BridgeConfigError(f"{name}={value}: must be at least {minimum}")
    return value


def _level(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    from .log_records import level_number

    level = level_number(raw)
    if level is None:
        raise BridgeConfigError(f"{name}={raw!r}: expected a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL)")
    return level


# Every BRIDGE_* variable the bridge reads (README: Configuration). Any other is a typo or a setting of
# another version: it fails the init, or with BRIDGE_ALLOW_UNKNOWN=1 is only logged (rolling upgrades).
SETTINGS = frozenset({
    "BRIDGE_BINARY", "BRIDGE_ARGS", "BRIDGE_MODE", "BRIDGE_FRAMING", "BRIDGE_HANDLER", "BRIDGE_TIMEOUT_MARGIN_MS",
    "BRIDGE_MAX_OUTPUT_BYTES", "BRIDGE_OUTPUT", "BRIDGE_STDERR_IS_ERROR", "BRIDGE_HTTP", "BRIDGE_HTTP_ERRORS",
    "BRIDGE_STDIN", "BRIDGE_STDERR_LEVEL", "BRIDGE_BATCH", "BRIDGE_BATCH_CONCURRENCY", "BRIDGE_BATCH_ALL_FAILED",
    "BRIDGE_RUNTIME_API", "BRIDGE_START", "BRIDGE_SNAPSTART", "BRIDGE_JSON", "BRIDGE_ALLOW_UNKNOWN",
    "BRIDGE_CGI_PASS_ENV", "BRIDGE_CONTENT_TYPE",
})


def _check_names(env: Mapping[str, str]) -> None:
    allow_unknown = _flag(env, "BRIDGE_ALLOW_UNKNOWN")  # checked whether or not anything is unknown
    unknown = sorted(name for name in env if name.startswith("BRIDGE_") and name not in SETTINGS)
    if not unknown:
        return
    from difflib import get_close_matches  # only now: it imports heapq and re

    described, prefix = [], len("BRIDGE_")
    for name in unknown:  # compared without the prefix they all share, which would make anything look close
        close = get_close_matches(name[prefix:], [known[prefix:] for known in SETTINGS], n=1, cutoff=0.6)
        described.append(f"{name} (did you mean BRIDGE_{close[0]}?)" if close else name)
    message = f"unknown setting {', '.join(described)}: the bridge reads no such variable (see README: Configuration)"
    if not allow_unknown:
        raise BridgeConfigError(message + "; BRIDGE_ALLOW_UNKNOWN=1 makes this a warning")
    from .logs import warn

    warn(message + " (ignored: BRIDGE_ALLOW_UNKNOWN=1)")


def _arguments(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("BRIDGE_ARGS", "")
    if not raw.strip():
        return ()
    import shlex  # only when used: it imports ``re``, which a cold start can do without

    try:
        return tuple(shlex.split(raw))
    except ValueError as exc:
        raise BridgeConfigError(f"BRIDGE_ARGS={raw!r}: {exc}") from None


_PATTERN_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_*?[]!")


def _names(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of environment variable names or shell-style patterns (``AWS_*``)."""
    items = tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())
    for item in items:
        if not set(item) <= _PATTERN_CHARACTERS or item[0].isdigit():
            raise BridgeConfigError(f"{name}: {item!r} is not a variable name or a pattern of one (letters, digits, "
                                    f"_ and the wildcards * ? [ ]), e.g. AWS_REGION,AWS_*,DB_URL")
    return items


def _content_type(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    kind, slash, subtype = value.partition("/")
    if value and not (slash and kind.strip() and subtype.strip() and value.isprintable() and value.isascii()):
        raise BridgeConfigError(f"{name}={value!r} is not a media type (type/subtype, e.g. image/jpeg or "
                                f"text/html; charset=utf-8)")
    return value


class Config:
    """The bridge's settings; immutable once read."""

    __slots__ = (
        "task_root",
        "binary",
        "args",
        "mode",
        "framing",
        "handler",
        "timeout_margin_ms",
        "max_output_bytes",
        "output",
        "stderr_is_error",
        "http",
        "http_errors",
        "stdin",
        "stderr_level",
        "batch",
        "batch_concurrency",
        "batch_all_failed",
        "runtime_api",
        "start",
        "snapstart",
        "cgi_pass_env",
        "content_type",
    )
    task_root: str
    binary: str  # BRIDGE_BINARY, as given ('' when unset)
    args: tuple[str, ...]
    mode: Mode
    framing: Framing
    handler: str  # BRIDGE_HANDLER: runtime-api mode's _HANDLER ('' for the binary's name)
    timeout_margin_ms: int
    max_output_bytes: int  # the reply's bytes, framing excluded
    output: Output
    stderr_is_error: bool
    http: Http
    http_errors: HttpErrors
    stdin: Stdin
    stderr_level: int  # BRIDGE_STDERR_LEVEL: the level of the binary's plain log lines
    batch: Batching
    batch_concurrency: int  # BRIDGE_BATCH_CONCURRENCY: records of a standard queue run at once (oneshot)
    batch_all_failed: BatchAllFailed
    runtime_api: RuntimeApi
    start: Start
    snapstart: SnapStart
    cgi_pass_env: tuple[str, ...]  # BRIDGE_CGI_PASS_ENV: the function's variables a CGI program also gets
    content_type: str  # BRIDGE_CONTENT_TYPE: an HTTP response's type for output wrapped as one ('' to sniff)

    def __init__(self, **values: object) -> None:
        for name in self.__slots__:
            object.__setattr__(self, name, values.pop(name))
        if values:
            raise TypeError(f"unknown settings: {', '.join(values)}")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Config is frozen: build a new one with replace()")

    def replace(self, **changes: object) -> Config:
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        return Config(**values)

    def __repr__(self) -> str:
        return "Config(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__) + ")"

    @classmethod
    def from_environ(cls, task_root: str, env: Mapping[str, str] | None = None) -> Config:
        """Read and check every ``BRIDGE_*`` variable."""
        env = os.environ if env is None else env
        _check_names(env)
        return cls(
            task_root=os.path.abspath(task_root),
            binary=env.get("BRIDGE_BINARY", "").strip(),
            args=_arguments(env),
            mode=_choice(env, "BRIDGE_MODE", Mode.ONESHOT),
            framing=_choice(env, "BRIDGE_FRAMING", Framing.LINES),
            handler=env.get("BRIDGE_HANDLER", "").strip(),
            timeout_margin_ms=_integer(env, "BRIDGE_TIMEOUT_MARGIN_MS", 500, 0),
            max_output_bytes=_integer(env, "BRIDGE_MAX_OUTPUT_BYTES", LAMBDA_MAX_PAYLOAD, 1),
            output=_choice(env, "BRIDGE_OUTPUT", Output.JSON),
            stderr_is_error=_flag(env, "BRIDGE_STDERR_IS_ERROR"),
            http=_choice(env, "BRIDGE_HTTP", Http.AUTO),
            http_errors=_choice(env, "BRIDGE_HTTP_ERRORS", HttpErrors.LAMBDA),
            stdin=_choice(env, "BRIDGE_STDIN", Stdin.EVENT),
            stderr_level=_level(env, "BRIDGE_STDERR_LEVEL", INFO),
            batch=_choice(env, "BRIDGE_BATCH", Batching.OFF),
            batch_concurrency=_integer(env, "BRIDGE_BATCH_CONCURRENCY", len(os.sched_getaffinity(0)), 1),
            batch_all_failed=_choice(env, "BRIDGE_BATCH_ALL_FAILED", BatchAllFailed.RAISE),
            runtime_api=_choice(env, "BRIDGE_RUNTIME_API", RuntimeApi.HANDOFF),
            start=_choice(env, "BRIDGE_START", Start.INIT),
            snapstart=_choice(env, "BRIDGE_SNAPSTART", SnapStart.RESTART),
            cgi_pass_env=_names(env, "BRIDGE_CGI_PASS_ENV"),
            content_type=_content_type(env, "BRIDGE_CONTENT_TYPE"),
        )
