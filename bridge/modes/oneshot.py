"""Oneshot mode: a fresh process per invocation, the event on stdin then EOF, the reply all of stdout."""

from __future__ import annotations

from ..errors import BinaryStderrError, BinaryTimeout
from ..failures import exit_error, timeout_error
from ..logs import OutputLog
from ..output import Collected, Scratch
from ..process import BIG_PIPE, DeadlineExceeded

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..binary import Program
    from ..config import Config
    from ..context import Invocation

_SMALL = 1 << 16


class Oneshot:
    __slots__ = ("program", "config", "_small", "_big")

    def __init__(self, program: Program, config: Config) -> None:
        self.program = program
        self.config = config
        self._small = Scratch(_SMALL)
        self._big: Scratch | None = None  # allocated on the first large event

    def call(self, payload: bytes, invocation: Invocation) -> bytearray:
        """Run the binary once on ``payload``; its stdout, or a typed error."""
        config = self.config
        if invocation.time_left() <= 0:
            raise BinaryTimeout("no time left to start the binary (remaining time is below BRIDGE_TIMEOUT_MARGIN_MS)")
        big = len(payload) > _SMALL
        child = self.program.start(invocation.environ(self.program.environ), big_pipes=big, small_input=not big)
        stdout = Collected(config.max_output_bytes, self._scratch(big))
        stderr = OutputLog(invocation.request_id, "stderr")
        try:
            child.pump(invocation.deadline, stdout, stderr, send=payload, close_stdin=True)
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
        return stdout.buffer

    def _scratch(self, big: bool) -> Scratch:
        if not big:
            return self._small
        if self._big is None:
            self._big = Scratch(BIG_PIPE)
        return self._big

    def close(self) -> None:
        """Nothing outlives a call in this mode."""
