"""The process-and-pipe core that every mode uses.

A ``Child`` is the binary running in its own process group with three pipes. ``Child.pump`` is one
poll loop, in the manner of ``subprocess.Popen._communicate``: it feeds stdin while it drains stdout
and stderr, against a deadline, so neither side can block the other whatever the sizes involved. It
also watches the process itself (a pidfd), so a binary that exits while a grandchild still holds its
stdout open cannot hang the call, and it can watch one extra file descriptor that another thread
uses to wake it (the runtime-API server does).

Anything that goes wrong inside the loop, including a sink that refuses more output, kills the whole
process group and reaps it before the exception leaves: no process is ever left behind.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import signal
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

# Python ignores SIGPIPE and SIGXFSZ, and ignored signals survive exec: give the child the defaults.
_DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)
_DUP2 = os.POSIX_SPAWN_DUP2
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
BIG_PIPE = 1 << 20
# After the binary itself exits, how long what is still buffered or held open by an escaped
# grandchild may take to arrive before the pipes are abandoned.
EXIT_DRAIN_S = 0.1
# Without pidfd support, how often to look whether the process has exited.
_EXIT_POLL_S = 0.02
_EXIT_POLL_FAST_S = 0.00005
_READABLE = select.POLLIN | select.POLLHUP | select.POLLERR
_WRITABLE = select.POLLOUT | select.POLLERR | select.POLLHUP


class DeadlineExceeded(Exception):
    """The deadline passed; the process group has been killed and reaped."""


def _open_pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def grow_pipe(fd: int, size: int = BIG_PIPE) -> None:
    """Raise a pipe's capacity (fewer wake-ups for big payloads); best effort, limits vary."""
    try:
        fcntl.fcntl(fd, _F_SETPIPE_SZ, size)
    except OSError:
        pass


class Child:
    """The binary, running, in its own process group, with stdin, stdout and stderr pipes."""

    __slots__ = ("pid", "pidfd", "stdin", "stdout", "stderr", "returncode", "_poller")

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str], *, big_pipes: bool = False, small_input: bool = False
    ) -> None:
        """Spawn ``argv``. ``small_input``: at most 64 KiB will ever be written to stdin, all at once,
        which an empty pipe takes without blocking, so stdin can stay blocking (two syscalls saved)."""
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        if big_pipes:
            grow_pipe(in_w)
            grow_pipe(out_w)
            grow_pipe(err_w)  # a long-lived binary may log this much between calls without blocking
        try:
            self.pid = os.posix_spawn(
                argv[0],
                argv,
                env,
                file_actions=((_DUP2, in_r, 0), (_DUP2, out_w, 1), (_DUP2, err_w, 2)),
                setpgroup=0,
                setsigdef=_DEFAULT_SIGNALS,
            )
        except BaseException:
            for fd in (in_w, out_r, err_r):
                os.close(fd)
            raise
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        if not small_input:
            os.set_blocking(in_w, False)
        self.stdin, self.stdout, self.stderr = in_w, out_r, err_r
        self.pidfd = _open_pidfd(self.pid)
        self.returncode: int | None = None
        self._poller = select.poll()
        self._poller.register(out_r, _READABLE)
        self._poller.register(err_r, _READABLE)
        if self.pidfd is not None:
            self._poller.register(self.pidfd, select.POLLIN)

    @property
    def alive(self) -> bool:
        return self.returncode is None

    def check_idle(self) -> bool:
        """Between calls of a long-lived child: reap it if it has exited; True if it wrote to stdout.

        One non-blocking poll: stdout data outside a call means the framing is out of step.
        """
        stray = False
        for fd, _ in self._poller.poll(0):
            if fd == self.stdout:
                stray = True
            elif fd == self.pidfd:
                self._reap()
        if self.pidfd is None and self.returncode is None and self._exited():
            self._reap()
        return stray

    def pump(
        self,
        deadline: float,
        stdout_sink: object,
        stderr_sink: object,
        *,
        send: Sequence[bytes | bytearray | memoryview] = (),
        close_stdin: bool = False,
        done: Callable[[], bool] | None = None,
        wake_fd: int | None = None,
    ) -> None:
        """Feed the buffers of ``send`` to stdin (one ``writev``, no joining copy) while draining stdout
        and stderr into the sinks.

        Returns when ``done()`` is true, or, with no ``done``, when the process has exited and both
        pipes are drained. Also returns when the process exits, so callers check ``alive``. A sink
        is any object with ``read_from(fd) -> bool`` (False at end of file); it may raise to stop the
        call. Raises ``DeadlineExceeded`` at ``deadline`` (a ``time.monotonic()`` value).
        """
        try:
            self._pump(deadline, stdout_sink, stderr_sink, send, close_stdin, done, wake_fd)
        except BaseException:
            self.kill()
            raise

    def _pump(self, deadline, stdout_sink, stderr_sink, send, close_stdin, done, wake_fd) -> None:
        poller = self._poller
        view = [memoryview(buffer) for buffer in send if len(buffer)]
        if view and self.stdin >= 0:
            view = self._write(view, close_stdin)
            if view:
                poller.register(self.stdin, _WRITABLE)
        elif close_stdin:
            self._close_stdin()
        if wake_fd is not None:
            poller.register(wake_fd, select.POLLIN)
        drain_until = deadline
        try:
            while True:
                if done is not None and done():
                    return
                if self.returncode is not None:
                    if self.stdout < 0 and self.stderr < 0:
                        return
                    if done is not None:
                        # A long-lived binary died mid-call: take what is buffered, then report.
                        drain_until = min(drain_until, time.monotonic() + EXIT_DRAIN_S)
                timeout = drain_until - time.monotonic()
                if timeout <= 0:
                    if self.returncode is None:
                        raise DeadlineExceeded()
                    self._abandon_pipes()
                    return
                if self.pidfd is None and self.returncode is None:
                    if self.stdout < 0 and self.stderr < 0:
                        # Pipes closed: the process is exiting (or lingering). poll() cannot sleep
                        # less than 1 ms, so let it finish and look again shortly.
                        time.sleep(_EXIT_POLL_FAST_S)
                        if self._exited():
                            self._reap()
                        continue
                    timeout = min(timeout, _EXIT_POLL_S)
                events = poller.poll(timeout * 1000.0 + 1.0)
                if self.pidfd is None and self.returncode is None and not events and self._exited():
                    self._reap()
                    drain_until = min(drain_until, time.monotonic() + EXIT_DRAIN_S)
                for fd, _ in events:
                    if fd == self.stdout:
                        if not stdout_sink.read_from(fd):
                            self._close_stdout()
                    elif fd == self.stderr:
                        if not stderr_sink.read_from(fd):
                            self._close_stderr()
                    elif fd == self.stdin:
                        view = self._write(view, close_stdin)
                        if not view:
                            self._unwatch(fd)
                    elif fd == self.pidfd:
                        self._reap()
                        drain_until = min(drain_until, time.monotonic() + EXIT_DRAIN_S)
                    elif fd == wake_fd:
                        os.read(wake_fd, 4096)
        finally:
            if wake_fd is not None:
                poller.unregister(wake_fd)
            if view:
                self._unwatch(self.stdin)

    def _write(self, views: list[memoryview], close_stdin: bool) -> list[memoryview]:
        """Write what the pipe takes now; returns what is left (empty when done or the reader left)."""
        try:
            written = os.writev(self.stdin, views)
        except BlockingIOError:
            return views
        except BrokenPipeError:
            # The binary stopped reading: fine, it may answer without the rest. The pipe stays open
            # (closed with the others) so ``unread_input`` can still tell what never reached it.
            self._unwatch(self.stdin)
            return []
        while views and written >= len(views[0]):
            written -= len(views[0])
            views = views[1:]
        if written:
            views = [views[0][written:], *views[1:]]
        if not views and close_stdin:
            self._close_stdin()
        return views

    def unread_input(self) -> int:
        """How many bytes written to stdin the binary never read (-1 once stdin is closed)."""
        if self.stdin < 0:
            return -1
        import termios

        return int.from_bytes(fcntl.ioctl(self.stdin, termios.FIONREAD, b"\0\0\0\0"), "little")

    def _unwatch(self, fd: int) -> None:
        try:
            self._poller.unregister(fd)
        except KeyError:
            pass

    def _close_stdin(self) -> None:
        if self.stdin >= 0:
            self._unwatch(self.stdin)
            os.close(self.stdin)
            self.stdin = -1

    def _close_stdout(self) -> None:
        if self.stdout >= 0:
            self._poller.unregister(self.stdout)
            os.close(self.stdout)
            self.stdout = -1

    def _close_stderr(self) -> None:
        if self.stderr >= 0:
            self._poller.unregister(self.stderr)
            os.close(self.stderr)
            self.stderr = -1

    def _abandon_pipes(self) -> None:
        """Something outside the process group still holds the pipes open: stop waiting for them."""
        self._close_stdout()
        self._close_stderr()

    def _exited(self) -> bool:
        """Without a pidfd: has the process exited? (Looks without reaping it, so its group id stays.)"""
        return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None

    def _reap(self) -> None:
        """The process has exited: kill what it left in its group, then collect its status."""
        if self.returncode is None:
            self._kill_group()
            _, status = os.waitpid(self.pid, 0)
            self._reaped(status)

    def _reaped(self, status: int) -> None:
        self.returncode = os.waitstatus_to_exitcode(status)
        if self.pidfd is not None:
            self._poller.unregister(self.pidfd)
            os.close(self.pidfd)
            self.pidfd = None

    def _kill_group(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError as exc:  # ESRCH: the group is already gone
            if exc.errno != errno.ESRCH:
                raise

    def kill(self) -> None:
        """Kill the whole process group, reap the process and close every pipe. Idempotent."""
        if self.returncode is None:
            self._kill_group()
            _, status = os.waitpid(self.pid, 0)
            self._reaped(status)
        self._close_stdin()
        self._abandon_pipes()

    def close(self) -> None:
        """Release a finished child's pipes (kills it if it is somehow still running)."""
        self.kill()

    def stop(self, grace: float = 1.0) -> None:
        """An orderly end for a long-lived binary: SIGTERM to its group so it can clean up (remove its
        temporary files), SIGKILL for what is left after ``grace`` seconds."""
        if self.returncode is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            limit = time.monotonic() + grace
            while self.returncode is None and time.monotonic() < limit:
                if self._exited():
                    self._reap()
                else:
                    time.sleep(0.005)
        self.kill()
