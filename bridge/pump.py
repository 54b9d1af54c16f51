"""One exchange with a running binary: the poll loop every mode runs its calls through.

In the manner of ``subprocess.Popen._communicate``: one loop feeds stdin while it drains stdout and
stderr, against a deadline, so neither side can block the other whatever the sizes involved; the
loop's state (what is left to write, how long to wait) is held on the object. It also watches the
process itself (a pidfd), so a binary that exits while a grandchild still holds its stdout open
cannot hang the call, and the sockets of a peer that serves the binary (the Runtime API server), whose
requests it hands over as they arrive.
"""

from __future__ import annotations

import os
import select
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .process import Child
    from .types import Peer, Sink

# After the binary itself exits, how long what is still buffered or held open by an escaped
# grandchild may take to arrive before the pipes are abandoned.
EXIT_DRAIN_S = 0.1
# Without pidfd support, how often to look whether the process has exited.
_EXIT_POLL_S = 0.02
_EXIT_POLL_FAST_S = 0.00005
# Before sleeping in poll(), look this many times, yielding the CPU between looks: an answer that comes within
# microseconds then costs no wake-up from idle, which on these VMs takes ~50 µs when the binary runs on the other
# CPU (a warm persistent call: ~120 µs floating, ~40 µs pinned to one CPU); on one CPU the yield runs the binary.
# At most a few tens of µs of a wait; 20 measured best of 0, 20, 60 and 150.
_SPIN_POLLS = 20
_WRITABLE = select.POLLOUT | select.POLLERR | select.POLLHUP


class DeadlineExceeded(Exception):
    """The deadline passed while the binary was still running (``Child.pump`` then kills it)."""


class Exchange:
    __slots__ = ("child", "stdout_sink", "stderr_sink", "done", "peer", "written", "_input", "_close_stdin",
                 "_until")

    def __init__(self, child: Child, deadline: float, stdout_sink: Sink, stderr_sink: Sink,
                 send: Sequence[bytes | bytearray | memoryview], close_stdin: bool,
                 done: Callable[[], bool] | None, peer: Peer | None) -> None:
        self.child = child
        self.stdout_sink = stdout_sink
        self.stderr_sink = stderr_sink
        self.done = done
        self.peer = peer
        self.written = 0  # bytes of the input the pipe took
        self._input = [memoryview(buffer) for buffer in send if len(buffer)]
        self._close_stdin = close_stdin
        self._until = deadline
        if child.returncode is not None:  # already gone: take what it left, briefly
            self._exited()

    def run(self) -> None:
        child = self.child
        self._start_input()
        if self.peer is not None:
            self.peer.watch(child.poller)
        try:
            while not self._finished():
                timeout = self._remaining_time()
                if timeout <= 0:
                    self._check_timeout()
                    return
                if child.exit_unwatched:
                    if child.output_closed:
                        self._wait_for_exit()
                        continue
                    timeout = min(timeout, _EXIT_POLL_S)
                events = self._poll(timeout)
                if not events and child.exit_unwatched and child.exited():
                    child.reap()
                    self._exited()
                for fd, mask in events:
                    self._handle(fd, mask)
        finally:
            if self.peer is not None:
                self.peer.unwatch(child.poller)
            if self._input:
                child.unwatch(child.stdin)

    def _poll(self, timeout: float) -> list[tuple[int, int]]:
        """What is ready: looked for a few times before sleeping up to ``timeout`` seconds (``_SPIN_POLLS``)."""
        poller = self.child.poller
        events = poller.poll(0)
        spins = _SPIN_POLLS
        while not events and spins:
            os.sched_yield()
            events = poller.poll(0)
            spins -= 1
        return events or poller.poll(timeout * 1000.0 + 1.0)

    def _finished(self) -> bool:
        if self.done is not None and self.done():
            return True
        return self.child.returncode is not None and self.child.output_closed

    def _remaining_time(self) -> float:
        return self._until - time.monotonic()

    def _check_timeout(self) -> None:
        """Time is up: a running binary has missed its deadline; an exited one's pipes are abandoned."""
        if self.child.returncode is None:
            raise DeadlineExceeded()
        self.child.abandon_output()

    def _exited(self) -> None:
        """The binary has exited: what it buffered (or an escaped grandchild writes) gets a moment more."""
        self._until = min(self._until, time.monotonic() + EXIT_DRAIN_S)

    def _wait_for_exit(self) -> None:
        """No pidfd and both pipes closed: the process is exiting. poll() cannot sleep less than 1 ms,
        so let it finish and look again shortly."""
        time.sleep(_EXIT_POLL_FAST_S)
        if self.child.exited():
            self.child.reap()

    def _handle(self, fd: int, mask: int) -> None:
        child = self.child
        if fd == child.stdout:
            if not self.stdout_sink.read_from(fd):
                child.close_stdout()
        elif fd == child.stderr:
            if not self.stderr_sink.read_from(fd):
                child.close_stderr()
        elif fd == child.stdin:
            self._write()
            if not self._input:
                child.unwatch(fd)
        elif fd == child.pidfd:
            child.reap()
            self._exited()
        elif self.peer is not None:
            self.peer.handle(fd, mask)

    def _start_input(self) -> None:
        child = self.child
        if self._input and child.stdin >= 0:
            self._write()
            if self._input:
                child.poller.register(child.stdin, _WRITABLE)
        elif self._close_stdin:
            child.close_stdin()

    def _write(self) -> None:
        """Write what the pipe takes now (one ``writev``, no joining copy); keep the rest for later."""
        child = self.child
        views = self._input
        try:
            written = os.writev(child.stdin, views)
        except BlockingIOError:
            return
        except BrokenPipeError:
            # The binary stopped reading: fine, it may answer without the rest. The pipe stays open
            # (closed with the others) so ``unread_input`` can still tell what never reached it.
            child.unwatch(child.stdin)
            self._input = []
            return
        self.written += written
        while views and written >= len(views[0]):
            written -= len(views[0])
            views = views[1:]
        if written:
            views = [views[0][written:], *views[1:]]
        self._input = views
        if not views and self._close_stdin:
            child.close_stdin()
