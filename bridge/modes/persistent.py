"""Persistent mode: one long-lived process per execution environment, one JSON line per message.

The binary is started on the first invocation and kept across warm ones. ``lines`` framing sends the
event as one line and takes one line back; ``envelope`` framing wraps both with an id, so a reply
can never reach the wrong invocation, and carries the context and typed errors. Any fault (crash,
timeout, broken framing, over-long reply) kills the process group; the next call starts afresh.
"""

from __future__ import annotations

from .. import codec, logs
from ..errors import BinaryExitError, BinaryProtocolError, BinarySignalError, BinaryTimeout, OutputTooLarge
from ..failures import exit_error, timeout_error, typed_error
from ..logs import OutputLog
from ..output import Decoded, Line, Storage
from ..process import BIG_PIPE, DeadlineExceeded

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..binary import Program
    from ..config import Config
    from ..context import Invocation
    from ..process import Child


class Persistent:
    __slots__ = ("program", "config", "child", "stdout", "stderr", "_done", "_sequence", "_envelope")

    def __init__(self, program: Program, config: Config) -> None:
        self.program = program
        self.config = config
        self.child: Child | None = None
        self.stdout = Line(config.max_output_bytes, Storage(BIG_PIPE), BIG_PIPE)
        self.stderr = OutputLog()
        self._done = self.stdout.complete
        self._sequence = 0
        self._envelope = config.framing == "envelope"

    def call(self, payload: bytes, invocation: Invocation) -> memoryview | Decoded:
        """Send one event to the running binary: its reply line, or the envelope's decoded result."""
        if invocation.time_left() <= 0:
            raise BinaryTimeout("no time left to call the binary (remaining time is below BRIDGE_TIMEOUT_MARGIN_MS)")
        self.stderr.start(invocation.request_id, "stderr")
        if self._envelope:
            self._sequence += 1
            head = b'{"id":%d,"context":%b,"event":' % (self._sequence, codec.dumps(invocation.describe()))
            message = (head, payload, b"}\n")
        else:
            message = (payload, b"\n")
        child = self._exchange(message, invocation)
        if not child.alive and not self.stdout.complete() and child.unread_input() == sum(map(len, message)):
            # It exited as the event arrived (between calls, in effect) without reading any of it:
            # nothing was processed, so a new process may safely take the event.
            logs.warn(f"the binary (pid {child.pid}) exited between calls with status {child.returncode} "
                      f"(as the event arrived, unread); restarting it")
            self._discard()
            child = self._exchange(message, invocation)
        if not self.stdout.complete():
            error = self._died_mid_call(child.returncode)
            self._discard()
            raise error
        line = self.stdout.take()  # a view, valid until the next call moves past it
        if self._envelope:
            return Decoded(self._open_envelope(line))
        return line

    def _exchange(self, message: tuple[bytes, ...], invocation: Invocation) -> Child:
        """Send one message and pump until the reply line is complete or the process has exited."""
        child = self._ready()
        try:
            child.pump(invocation.deadline, self.stdout, self.stderr, send=message, done=self._done)
        except DeadlineExceeded:
            self._discard()
            raise timeout_error(invocation.elapsed_ms(), self.config.timeout_margin_ms, self.stderr) from None
        except OutputTooLarge:
            self._discard()
            raise
        finally:
            self.stderr.flush()
        return child

    def _ready(self) -> Child:
        """The running process, (re)started when needed; stray output means the framing is lost."""
        child = self.child
        if child is not None:
            stray = child.check_idle() or self.stdout.pending() > 0
            self.stdout.next_line()
            if not child.alive:
                logs.warn(f"the binary (pid {child.pid}) exited between calls with status {child.returncode}; "
                          f"restarting it")
            elif stray:
                logs.warn(f"the binary (pid {child.pid}) wrote output outside a call; restarting it to stay in step")
            if stray or not child.alive:
                self._discard()
                child = None
        if child is None:
            child = self.child = self.program.start(self.program.environ, big_pipes=True)
        return child

    def _died_mid_call(self, returncode: int | None) -> Exception:
        if returncode is None or returncode == 0:
            held = self.stdout.storage.used
            partial = f" after {held} bytes of an unfinished reply" if held else ""
            return BinaryExitError(f"the binary exited with status {returncode} before replying{partial}; "
                                   f"stderr: {self.stderr.tail()}")
        error = exit_error(returncode, self.stderr)
        if isinstance(error, (BinaryExitError, BinarySignalError)):
            return type(error)(f"{error} (mid-call; the next call starts a new process)")
        return error

    def _open_envelope(self, line: bytes) -> object:
        try:
            reply = codec.loads(line)
        except codec.DecodeError as exc:
            self._discard()
            raise BinaryProtocolError(f"the binary's reply is not JSON ({exc}): {bytes(line[:200])!r}") from None
        if not isinstance(reply, dict) or reply.get("id") != self._sequence:
            got = reply.get("id") if isinstance(reply, dict) else reply
            self._discard()
            raise BinaryProtocolError(
                f"the binary answered id {got!r} to request id {self._sequence}; the reply was dropped and "
                f"the binary restarted so that no response reaches the wrong invocation")
        if "error" in reply:
            error = typed_error(reply["error"])
            if error is None:
                raise BinaryProtocolError(f"malformed error reply: {reply['error']!r}")
            raise error
        if "result" not in reply:
            raise BinaryProtocolError("the binary's reply has neither result nor error")
        return reply["result"]

    def _discard(self) -> None:
        """Kill the current process (if any) and forget its buffered output."""
        if self.child is not None:
            self.child.kill()
            self.child = None
        self.stdout.clear()

    def close(self) -> None:
        if self.child is not None:
            self.child.stop()  # an orderly end, unlike a fault's immediate kill
        self._discard()
