"""The binary as a running process: spawned in its own process group with three pipes, reaped, killed.

A ``Child`` owns the process and its pipes. ``Child.pump`` runs one ``Exchange`` (``bridge.pump``):
the poll loop that feeds stdin and drains stdout and stderr against a deadline. Anything that goes
wrong inside it kills the whole process group and reaps it before the exception leaves.

Nothing the binary starts outlives it either. When the binary is reaped, what is left in its process
group is killed; and the bridge's process is a child subreaper (``become_subreaper``), so descendants
that left the group (``setsid``, ``setpgid``) are re-parented to it once orphaned, and ``sweep_orphans``
kills and reaps them: every child of this process outside its own process group that the bridge did
not start itself (on Lambda and in the CLI, that is exactly the binary's escaped descendants).
"""

from __future__ import annotations

import _signal  # signal's own functions and constants, without signal.py's enum classes
import errno
import fcntl
import os
import select
import threading

from .binary import SIGNALS_TO_DEFAULT
from .pump import Exchange

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from .types import Peer, Sink

_DUP2 = os.POSIX_SPAWN_DUP2
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
BIG_PIPE = 1 << 20
READABLE = select.POLLIN | select.POLLHUP | select.POLLERR
_PR_SET_CHILD_SUBREAPER = 36
# Pids of the binaries the bridge started and has not reaped: the only children a sweep leaves alone.
# Spawning (until the pid is registered) and sweeping exclude each other: batch records run in threads.
_RUNNING: set[int] = set()
_SPAWN_LOCK = threading.Lock()
_subreaper: bool | None = None


def become_subreaper() -> bool:
    """Make this process the reaper of its descendants' orphans (Linux ``PR_SET_CHILD_SUBREAPER``),
    once; False where the kernel refuses."""
    global _subreaper
    if _subreaper is None:
        try:
            _subreaper = _prctl(_PR_SET_CHILD_SUBREAPER, 1) == 0
        except (OSError, AttributeError):
            _subreaper = False
    return _subreaper


def _prctl(option: int, argument: int) -> int:
    """prctl(2), called through ``_ctypes``, the C module beneath ``ctypes``: importing ``ctypes`` itself
    costs a cold start about 2 ms (its Python layer and the modules it loads), for this one call. What
    ``ctypes.CDLL(None).prctl`` does, spelled out: a C ``int`` result type, a cdecl function pointer
    looked up in the process's own symbols."""
    import _ctypes

    class CInt(_ctypes._SimpleCData):
        _type_ = "i"

    class Function(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL
        _restype_ = CInt

    class Process:  # what a function pointer is looked up in: an object holding a dlopen handle
        _handle = _ctypes.dlopen(None, 0)  # type: ignore[arg-type]  # None: the process itself (stubs say str)

    lookup = ("prctl", Process())  # (name, library), as ctypes.CDLL's own function pointers are made
    return Function(lookup)(option, argument, 0, 0, 0)  # type: ignore[arg-type]  # stubs want a ctypes.CDLL


_children_file: tuple[int, int] | None = None  # (pid, fd): kept open, so a look costs one pread


def _children() -> list[int]:
    """This process's children (orphans are re-parented to its main thread)."""
    global _children_file
    pid = os.getpid()
    if _children_file is None or _children_file[0] != pid:  # first look, or in a forked process
        try:
            _children_file = (pid, os.open(f"/proc/self/task/{pid}/children", os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            return []
    fd, size = _children_file[1], 1 << 16
    data = os.pread(fd, size, 0)
    while len(data) == size:
        size *= 4
        data = os.pread(fd, size, 0)
    return [int(child) for child in data.split()]


def sweep_orphans() -> int:
    """Kill and reap the binaries' escaped descendants that have been orphaned to this process; how many.

    Killing one orphans its own children in turn, so this repeats until none is left.
    """
    own_group = os.getpgrp()
    swept = 0
    with _SPAWN_LOCK:
        for _ in range(100):
            found = _escaped(own_group)
            if not found:
                break
            for pid, group in found:
                _kill_and_reap(pid, group)
                swept += 1
    return swept


def _escaped(own_group: int) -> list[tuple[int, int]]:
    """(pid, process group) of each child outside this process's group that the bridge did not start."""
    found = []
    for pid in _children():
        if pid in _RUNNING:
            continue
        try:
            group = os.getpgid(pid)
        except ProcessLookupError:
            continue
        if group != own_group:
            found.append((pid, group))
    return found


def _kill_and_reap(pid: int, group: int) -> None:
    for kill, target in ((os.killpg, group), (os.kill, pid)):
        try:
            kill(target, _signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # reaped elsewhere meanwhile
        pass


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

    __slots__ = ("pid", "pidfd", "stdin", "stdout", "stderr", "returncode", "poller")

    def __init__(
        self, argv: tuple[str, ...], env: Mapping[str, str], *, big_pipes: bool = False, small_input: bool = False
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
            with _SPAWN_LOCK:
                self.pid = os.posix_spawn(
                    argv[0],
                    argv,
                    env,
                    file_actions=((_DUP2, in_r, 0), (_DUP2, out_w, 1), (_DUP2, err_w, 2)),
                    setpgroup=0,
                    setsigdef=SIGNALS_TO_DEFAULT,
                    setsigmask=(),
                )
                _RUNNING.add(self.pid)
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
        self.poller = select.poll()
        self.poller.register(out_r, READABLE)
        self.poller.register(err_r, READABLE)
        if self.pidfd is not None:
            self.poller.register(self.pidfd, select.POLLIN)

    @property
    def alive(self) -> bool:
        return self.returncode is None

    @property
    def exit_unwatched(self) -> bool:
        """Running without a pidfd: its exit must be looked for, as no poll will report it."""
        return self.pidfd is None and self.returncode is None

    @property
    def output_closed(self) -> bool:
        return self.stdout < 0 and self.stderr < 0

    def pump(
        self,
        deadline: float,
        stdout_sink: Sink,
        stderr_sink: Sink,
        *,
        send: Sequence[bytes | bytearray | memoryview] = (),
        close_stdin: bool = False,
        done: Callable[[], bool] | None = None,
        peer: Peer | None = None,
    ) -> int:
        """Feed the buffers of ``send`` to stdin while draining stdout and stderr into the sinks; how
        many bytes of ``send`` the pipe took.

        Returns when ``done()`` is true, or, with no ``done``, when the process has exited and both
        pipes are drained. Also returns when the process exits, so callers check ``alive``. Raises
        ``DeadlineExceeded`` at ``deadline`` (a ``time.monotonic()`` value). ``peer``: a server whose
        sockets are watched in the same loop (the Runtime API), ``done`` being looked at after each event.
        """
        exchange = Exchange(self, deadline, stdout_sink, stderr_sink, send, close_stdin, done, peer)
        try:
            exchange.run()
        except BaseException:
            self.kill()
            raise
        return exchange.written

    def check_idle(self) -> bool:
        """Between calls of a long-lived child: reap it if it has exited; True if it wrote to stdout.

        One non-blocking poll: stdout data outside a call means the framing is out of step. End of file
        alone (POLLHUP, no POLLIN) is no output: it is a binary exiting, which its exit status will say.
        """
        stray = False
        for fd, mask in self.poller.poll(0):
            if fd == self.stdout:
                stray = stray or bool(mask & select.POLLIN)
            elif fd == self.pidfd:
                self.reap()
        if self.exit_unwatched and self.exited():
            self.reap()
        return stray

    def unread_input(self) -> int:
        """How many bytes written to stdin the binary never read (-1 once stdin is closed)."""
        if self.stdin < 0:
            return -1
        import termios

        return int.from_bytes(fcntl.ioctl(self.stdin, termios.FIONREAD, b"\0\0\0\0"), "little")

    def unwatch(self, fd: int) -> None:
        try:
            self.poller.unregister(fd)
        except KeyError:
            pass

    def close_stdin(self) -> None:
        if self.stdin >= 0:
            self.unwatch(self.stdin)
            os.close(self.stdin)
            self.stdin = -1

    def close_stdout(self) -> None:
        if self.stdout >= 0:
            self.poller.unregister(self.stdout)
            os.close(self.stdout)
            self.stdout = -1

    def close_stderr(self) -> None:
        if self.stderr >= 0:
            self.poller.unregister(self.stderr)
            os.close(self.stderr)
            self.stderr = -1

    def abandon_output(self) -> None:
        """Something outside the process group still holds the pipes open: stop waiting for them."""
        self.close_stdout()
        self.close_stderr()

    def exited(self) -> bool:
        """Without a pidfd: has the process exited? (Looks without reaping it, so its group id stays.)"""
        return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None

    def reap(self) -> None:
        """The process has exited (or is to be killed): kill what it left in its group and its
        orphaned descendants outside it, and collect its status."""
        if self.returncode is None:
            self._kill_group()
            self._wait()
            sweep_orphans()

    def _wait(self) -> None:
        _, status = os.waitpid(self.pid, 0)
        _RUNNING.discard(self.pid)
        self.returncode = os.waitstatus_to_exitcode(status)
        if self.pidfd is not None:
            self.poller.unregister(self.pidfd)
            os.close(self.pidfd)
            self.pidfd = None

    def _kill_group(self, sig: int = _signal.SIGKILL) -> None:
        try:
            os.killpg(self.pid, sig)
        except OSError as exc:  # ESRCH: the group is already gone
            if exc.errno != errno.ESRCH:
                raise

    def kill(self) -> None:
        """Kill the whole process group, reap the process and close every pipe. Idempotent."""
        self.reap()
        self.close_stdin()
        self.abandon_output()

    def terminate(self) -> None:
        """Ask the whole process group to end (SIGTERM), so it can clean up (remove its temporary files)."""
        if self.returncode is None:
            self._kill_group(_signal.SIGTERM)
