"""The Lambda context object: a stand-in for runs outside Lambda, and its parts as plain data.

``LocalContext`` has the attributes of the runtime's context (the CLI, the tests and the emulator pass
it to ``handler``); ``plain`` turns the runtime's nested context objects into JSON-able data.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


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


def function_variables(environ: Mapping[str, str], name: str = "exec-bridge-local") -> dict[str, str]:
    """The variables Lambda gives every runtime, as a run outside Lambda gets them: the environment's own
    where set, else the stand-ins ``LocalContext`` reports (Node's runtime client stops without them)."""
    name = environ.get("AWS_LAMBDA_FUNCTION_NAME") or name
    found = {
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
    }
    return {key: environ.get(key) or value for key, value in found.items()}


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
        self.tenant_id: str | None = None
        self._deadline_ms = int(time.time() * 1000 + timeout_s * 1000)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))
