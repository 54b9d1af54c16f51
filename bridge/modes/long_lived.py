"""What the long-lived modes (persistent, runtime-api) share: one binary kept across calls.

Started on the first call, checked before each one (an exit or stray output between calls gets it
replaced, with a warning), discarded on any fault (killed at once: the next call starts afresh) and
stopped in order when the bridge closes or the interpreter exits (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import atexit
import time

from .. import logs
from ..errors import timeout_error
from ..invocation import Invocation
from ..logs import StreamLog
from ..pump import DeadlineExceeded

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ..binary import Program
    from ..config import Config
    from ..process import Child
    from ..types import Peer, Sink

STOP_GRACE_S = 1.0  # how long a closing binary has between SIGTERM and SIGKILL
INIT_LIMIT_S = 10.0  # Lambda's own limit on a function's init phase


class LongLived:
    http_only = False
    independent_calls = False
    noun = "binary"  # what the log calls the process

    def __init__(self, program: Program, config: Config, stdout: Sink) -> None:
        self.program = program
        self.config = config
        self.child: Child | None = None
        self.stdout = stdout
        self.stderr = StreamLog("stderr")
        self._logs = [log for log in (stdout, self.stderr) if isinstance(log, StreamLog)]
        atexit.register(self.close)  # a binary that ignores end of input must not outlive the interpreter

    def _start(self, invocation: Invocation) -> Child:
        """Start the binary (and see it through its init); the mode's own part."""
        raise NotImplementedError

    def start(self) -> None:
        """Start the binary now, outside any call (replacing a running one): within Lambda's 10 s init
        limit, logging without a request id; a failure is the init's typed error."""
        self.close()
        phase = Invocation.init_phase(INIT_LIMIT_S)
        for log in self._logs:
            log.start("")
        self.child = self._start(phase)

    def _begin(self, invocation: Invocation) -> Child:
        """A call begins: its logs get its request id, and the binary is ready to take it."""
        for log in self._logs:
            log.start(invocation.request_id)
        child = self.child
        if child is not None:
            fault = self._idle_fault(child)
            if fault:
                logs.warn(f"{fault}; restarting it")
                self._discard()
                child = None
        if child is None:
            child = self.child = self._start(invocation)
        return child

    def _idle_fault(self, child: Child) -> str:
        """Why the running process cannot take the next call ('' when it can)."""
        child.check_idle()
        if child.alive:
            return ""
        return f"the {self.noun} (pid {child.pid}) exited between calls with status {child.returncode}"

    def _pump(self, invocation: Invocation, done: Callable[[], bool], *, send: Sequence[bytes] = (),
              deadline: float | None = None, peer: Peer | None = None, close_stdin: bool = False) -> int:
        """``Child.pump`` for this call: any fault discards the process, a missed deadline is typed."""
        assert self.child is not None
        try:
            return self.child.pump(deadline or invocation.deadline, self.stdout, self.stderr, send=send, done=done,
                                   peer=peer, close_stdin=close_stdin)
        except DeadlineExceeded:
            self._discard()
            raise self._timeout(invocation, deadline) from None
        except BaseException:
            self._discard()
            raise
        finally:
            for log in self._logs:
                log.flush()

    def _timeout(self, invocation: Invocation, deadline: float | None) -> Exception:
        return timeout_error(invocation.elapsed_ms(), self.config.timeout_margin_ms, self.stderr)

    def _discard(self) -> None:
        """Kill the current process (if any) and forget everything of it."""
        if self.child is not None:
            self.child.kill()
            self.child = None
        self._forget()

    def _forget(self) -> None:
        """What the mode drops with a discarded process (buffered output, its server)."""

    def close(self) -> None:
        """An orderly end, unlike a fault's immediate kill: SIGTERM, then what the binary still writes
        is logged until it exits (SIGKILL after ``STOP_GRACE_S``)."""
        child = self.child
        if child is not None and child.alive:
            for log in self._logs:
                log.start("")  # between calls: what it writes now belongs to no request
            try:
                self._settle(child, time.monotonic() + STOP_GRACE_S)
                if child.alive:
                    child.terminate()
                    child.pump(time.monotonic() + STOP_GRACE_S, self.stdout, self.stderr)
            except Exception:  # DeadlineExceeded, or stray output past the cap: the pump killed it
                pass
            finally:
                for log in self._logs:
                    log.flush()
        self._discard()

    def _settle(self, child: Child, deadline: float) -> None:
        """Let the binary come to rest before it is stopped (the mode's own part; nothing by default)."""
