"""Configuration: the ``BRIDGE_*`` environment variables, read once per cold start, validated, frozen.

Every variable, its default and its meaning is listed in the README; a bad value fails the init
phase with ``BridgeConfigError`` naming the variable, rather than failing later, per call.
"""

from __future__ import annotations

import os

from .errors import BridgeConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: collections.abc costs ~3 ms of cold start
    from collections.abc import Mapping

LAMBDA_MAX_PAYLOAD = 6 * 1024 * 1024

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in allowed:
        raise BridgeConfigError(f"{name}={value!r}: expected one of {', '.join(allowed)}")
    return value


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


def _arguments(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("BRIDGE_ARGS", "")
    if not raw.strip():
        return ()
    import shlex  # only when used: it imports ``re``, which a cold start can do without

    try:
        return tuple(shlex.split(raw))
    except ValueError as exc:
        raise BridgeConfigError(f"BRIDGE_ARGS={raw!r}: {exc}") from None


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
    )

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
        return cls(
            task_root=os.path.abspath(task_root),
            binary=env.get("BRIDGE_BINARY", "").strip(),
            args=_arguments(env),
            mode=_choice(env, "BRIDGE_MODE", "oneshot", ("oneshot", "persistent", "runtime-api", "cgi")),
            framing=_choice(env, "BRIDGE_FRAMING", "lines", ("lines", "envelope")),
            handler=env.get("BRIDGE_HANDLER", "").strip(),
            timeout_margin_ms=_integer(env, "BRIDGE_TIMEOUT_MARGIN_MS", 500, 0),
            max_output_bytes=_integer(env, "BRIDGE_MAX_OUTPUT_BYTES", LAMBDA_MAX_PAYLOAD, 1),
            output=_choice(env, "BRIDGE_OUTPUT", "json", ("json", "text")),
            stderr_is_error=_flag(env, "BRIDGE_STDERR_IS_ERROR"),
            http=_choice(env, "BRIDGE_HTTP", "auto", ("auto", "off")),
            http_errors=_choice(env, "BRIDGE_HTTP_ERRORS", "lambda", ("lambda", "response")),
            stdin=_choice(env, "BRIDGE_STDIN", "event", ("event", "body")),
        )
