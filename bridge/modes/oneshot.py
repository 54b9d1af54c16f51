"""Oneshot mode: a fresh process per invocation, the event on stdin then EOF, the reply all of stdout."""

from __future__ import annotations

from ..capture import Collected, Storage
from ..errors import BinaryStderrError, exit_error, timeout_error
from ..logs import StreamLog
from ..process import BIG_PIPE
from ..pump import DeadlineExceeded
from ..reply import Stdout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..binary import Program
    from ..config import Config
    from ..event import Event
    from ..invocation import Invocation

_SMALL = 1 << 16


class Oneshot:
    http_only = False
    independent_calls = True
    __slots__ = ("program", "config", "storage")

    def __init__(self, program: Program, config: Config) -> None:
        self.program = program
        self.config = config
        self.storage = Storage()  # reused by every call: a large reply's pages stay mapped

    def call(self, event: Event, invocation: Invocation) -> Stdout:
        return Stdout(self.run(event.stdin(self.config.stdin), invocation))

    def run(self, payload: bytes, invocation: Invocation, env: dict[str, str] | None = None,
            framing: int = 0) -> memoryview:
        """Run the binary once on ``payload``; its stdout, or a typed error. ``env`` replaces the function's
        environment with the invocation's (CGI mode's own) and ``framing`` adds to the bytes stdout may hold
        beyond the reply (CGI mode's header section). The view is valid until the next run."""
        config = self.config
        big = len(payload) > _SMALL
        if env is None:
            env = invocation.environ(self.program.environ)
        child = self.program.start(env, big_pipes=big, small_input=not big)
        stdout = Collected(config.max_output_bytes, self.storage, BIG_PIPE if big else _SMALL, framing)
        stderr = StreamLog("stderr", invocation.request_id)
        try:
            child.pump(invocation.deadline, stdout, stderr, send=(payload,), close_stdin=True)
        except DeadlineExceeded:
            raise timeout_error(invocation.elapsed_ms(), config.timeout_margin_ms, stderr) from None
        finally:
            stderr.flush()
            child.kill()
        if child.returncode != 0:
            assert child.returncode is not None
            raise exit_error(child.returncode, stderr)
        if config.stderr_is_error and stderr.bytes_seen:
            raise BinaryStderrError(
                f"the binary exited 0 but wrote to stderr (BRIDGE_STDERR_IS_ERROR): {stderr.tail()}"
            )
        return stdout.output()

    def start(self) -> None:
        """Nothing outlives a call in this mode."""

    def close(self) -> None:
        """Nothing outlives a call in this mode."""
