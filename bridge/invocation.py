"""One invocation as the bridge handles it: its request id, its deadline, and what the binary is told.

Made once per call from the runtime's context object (see ``types.LambdaContext``).
"""

from __future__ import annotations

import os
import time

from . import codec
from .context import new_request_id, new_trace_id, plain
from .errors import BinaryTimeout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .types import LambdaContext


class Invocation:
    """One call: when it must end and what the binary is told about it."""

    __slots__ = ("context", "request_id", "deadline", "deadline_ms", "started", "_trace_id")

    def __init__(self, context: LambdaContext, margin_ms: int) -> None:
        self.context = context
        self.started = time.monotonic()
        remaining_ms = context.get_remaining_time_in_millis()
        self.deadline_ms = int(time.time() * 1000) + remaining_ms
        self.deadline = self.started + (remaining_ms - margin_ms) / 1000.0
        self.request_id: str = getattr(context, "aws_request_id", None) or new_request_id()
        self._trace_id: str | None = None

    @classmethod
    def init_phase(cls, seconds: float) -> Invocation:
        """Lambda's init phase, which is no invocation: no request id, a limit of its own."""
        self = cls.__new__(cls)
        self.context = None  # type: ignore[assignment]  # nothing reads a context before a call
        self.started = time.monotonic()
        self.deadline = self.started + seconds
        self.deadline_ms = int(time.time() * 1000 + seconds * 1000)
        self.request_id = ""
        self._trace_id = None
        return self

    @property
    def function_arn(self) -> str:
        return getattr(self.context, "invoked_function_arn", None) or ""

    @property
    def tenant_id(self) -> str:
        """The tenant of a function with tenant isolation (awslambdaric's ``context.tenant_id``), else ''."""
        return getattr(self.context, "tenant_id", None) or ""

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

    def require_time(self) -> None:
        """Refuse to start work when the deadline minus the margin has already passed."""
        if self.time_left() <= 0:
            raise BinaryTimeout("no time left to call the binary (remaining time is below BRIDGE_TIMEOUT_MARGIN_MS)")

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
            "tenantId": self.tenant_id or None,
        }

    def environ(self, base: dict[str, str], *, function: bool = True) -> dict[str, str]:
        """The binary's environment for this call: ``base`` plus the invocation's. ``function=False`` (a CGI
        program, which must not learn about the function) leaves out its ARN and the whole context."""
        env = dict(base)
        env["LAMBDA_REQUEST_ID"] = self.request_id
        env["LAMBDA_DEADLINE_MS"] = str(self.deadline_ms)
        env["_X_AMZN_TRACE_ID"] = self.trace_id
        if self.tenant_id:
            env["LAMBDA_TENANT_ID"] = self.tenant_id
        if function:
            env["LAMBDA_FUNCTION_ARN"] = self.function_arn
            env["LAMBDA_INVOCATION_CONTEXT"] = codec.dumps(self.describe()).decode()
        return env
