"""Oneshot mode: a fresh process per invocation, the event on stdin then EOF, the reply all of stdout."""

from __future__ import annotations

from ..errors import BinaryStderrError, BinaryTimeout
from ..failures import exit_error, timeout_error
from ..logs import OutputLog
from ..output import Collected, Storage
from ..process import BIG_PIPE, DeadlineExceeded

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..binary import Program
    from ..config import Config
    from ..context import Invocation

_SMALL = 1 << 16


class Oneshot:
    __slots__ = ("program", "config", "storage")

    def __init__(self, program: Program, config: Config) -> None:
        self.program = program
        self.config = config
        self.storage = Storage()  # reused by every call: a large reply's pages stay mapped

    def call(self, payload: bytes, invocation: Invocation, extra_env: dict[str, str] | None = None) -> memoryview:
        """Run the binary once on ``payload``; its stdout, or a typed error. ``extra_env`` adds to the
        invocation's environment (CGI mode's meta-variables)."""
        config = self.config
        if invocation.time_left() <= 0:
            raise BinaryTimeout("no time left to start the binary (remaining time is below BRIDGE_TIMEOUT_MARGIN_MS)")
        big = len(payload) > _SMALL
        env = invocation.environ(self.program.environ)
        if extra_env:
            env.update(extra_env)
        child = self.program.start(env, big_pipes=big, small_input=not big)
        stdout = Collected(config.max_output_bytes, self.storage, BIG_PIPE if big else _SMALL)
        stderr = OutputLog(invocation.request_id, "stderr")
        try:
            child.pump(invocation.deadline, stdout, stderr, send=(payload,), close_stdin=True)
        except DeadlineExceeded:
            raise timeout_error(invocation.elapsed_ms(), config.timeout_margin_ms, stderr) from None
        finally:
            stderr.flush()
            child.close()
        if child.returncode != 0:
            raise exit_error(child.returncode, stderr)
        if config.stderr_is_error and stderr.bytes_seen:
            raise BinaryStderrError(
                f"the binary exited 0 but wrote to stderr (BRIDGE_STDERR_IS_ERROR): {stderr.tail()}"
            )
        return stdout.output()  # valid until the next call: the bridge decodes it at once

    def close(self) -> None:
        """Nothing outlives a call in this mode."""
