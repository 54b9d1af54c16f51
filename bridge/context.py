"""The invocation as the binary sees it: request id, deadline, trace id and the whole Lambda context.

``Invocation`` is computed once per call from the runtime's context object; ``LocalContext`` stands in
for that object when the handler runs outside Lambda (the CLI, the tests, the emulator).
"""

from __future__ import annotations

import os
import time

from . import codec


def plain(value: object) -> object:
    """The context's nested objects (ClientContext, CognitoIdentity use __slots__) as JSON-able data."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    names = getattr(value, "__slots__", None) or list(getattr(value, "__dict__", {}))
    return {name: plain(getattr(value, name, None)) for name in names if not name.startswith("_")}


def new_request_id() -> str:
    """A random UUID-shaped id (without importing ``uuid``, which is slow to import)."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def new_trace_id() -> str:
    """An X-Ray trace header, fresh per call, for runs outside Lambda."""
    h = os.urandom(20).hex()
    return f"Root=1-{int(time.time()):08x}-{h[:24]};Parent={h[24:40]};Sampled=0"


class Invocation:
    """One call: when it must end and what the binary is told about it."""

    __slots__ = ("context", "request_id", "deadline", "deadline_ms", "started", "_trace_id")

    def __init__(self, context: object, margin_ms: int) -> None:
        self.context = context
        self.started = time.monotonic()
        remaining_ms = context.get_remaining_time_in_millis()
        self.deadline_ms = int(time.time() * 1000) + remaining_ms
        self.deadline = self.started + (remaining_ms - margin_ms) / 1000.0
        self.request_id = getattr(context, "aws_request_id", None) or new_request_id()
        self._trace_id = None

    @property
    def function_arn(self) -> str:
        return getattr(self.context, "invoked_function_arn", None) or ""

    @property
    def trace_id(self) -> str:
        """The runtime sets _X_AMZN_TRACE_ID per invocation; outside Lambda a fresh one is made (lazily:
        a persistent binary with line framing never sees it)."""
        if self._trace_id is None:
            self._trace_id = os.environ.get("_X_AMZN_TRACE_ID") or new_trace_id()
        return self._trace_id

    def time_left(self) -> float:
        """Seconds until the binary must be stopped."""
        return self.deadline - time.monotonic()

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    def describe(self) -> dict:
        """The whole context as data: the envelope's ``context`` and ``LAMBDA_INVOCATION_CONTEXT``."""
        c = self.context
        return {
            "requestId": self.request_id,
            "deadlineMs": self.deadline_ms,
            "invokedFunctionArn": self.function_arn,
            "traceId": self.trace_id,
            "functionName": getattr(c, "function_name", None),
            "functionVersion": getattr(c, "function_version", None),
            "memoryLimitInMB": getattr(c, "memory_limit_in_mb", None),
            "logGroupName": getattr(c, "log_group_name", None),
            "logStreamName": getattr(c, "log_stream_name", None),
            "clientContext": plain(getattr(c, "client_context", None)),
            "identity": plain(getattr(c, "identity", None)),
        }

    def environ(self, base: dict[str, str]) -> dict[str, str]:
        """The binary's environment for this call: the function's plus the invocation's."""
        env = dict(base)
        env["LAMBDA_REQUEST_ID"] = self.request_id
        env["LAMBDA_DEADLINE_MS"] = str(self.deadline_ms)
        env["LAMBDA_FUNCTION_ARN"] = self.function_arn
        env["_X_AMZN_TRACE_ID"] = self.trace_id
        env["LAMBDA_INVOCATION_CONTEXT"] = codec.dumps(self.describe()).decode()
        return env


class LocalContext:
    """A Lambda context for runs outside Lambda, with the same attributes as the runtime's."""

    def __init__(self, timeout_s: float = 30.0, function_name: str | None = None) -> None:
        name = function_name or os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "exec-bridge-local"
        self.aws_request_id = new_request_id()
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{name}"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self.client_context = None
        self.identity = None
        self._deadline_ms = int(time.time() * 1000 + timeout_s * 1000)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))
