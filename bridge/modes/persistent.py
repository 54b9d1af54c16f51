"""Persistent mode: one long-lived process per execution environment, one JSON line per message.

The binary is started on the first invocation and kept across warm ones. ``lines`` framing sends the
event as one line and takes one line back; ``envelope`` framing wraps both with an id, so a reply
can never reach the wrong invocation, and carries the context and typed errors. Any fault (crash,
timeout, broken framing, over-long reply) kills the process group; the next call starts afresh.
"""

from __future__ import annotations

import os
import select

from .. import codec, logs
from ..capture import Line, Storage, too_large
from ..config import Framing
from ..errors import (
    BinaryExitError,
    BinaryProtocolError,
    BinarySignalError,
    InvalidOutput,
    binary_error,
    exit_error,
)
from ..logs import StreamLog
from ..process import BIG_PIPE
from ..reply import Stdout, Value
from .long_lived import LongLived

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..binary import Program
    from ..config import Config
    from ..event import Event
    from ..invocation import Invocation
    from ..process import Child


# Bytes of an envelope reply line that are not the result: {"id":N,"result":...} and some white space.
ENVELOPE_FRAMING = 1024


class Persistent(LongLived):
    def __init__(self, program: Program, config: Config) -> None:
        self._envelope = config.framing is Framing.ENVELOPE
        framing = ENVELOPE_FRAMING if self._envelope else 0
        self.lines = Line(config.max_output_bytes, Storage(BIG_PIPE), BIG_PIPE, framing)
        super().__init__(program, config, self.lines)
        self._sequence = 0
        self._unasked = False  # the running process has not been sent a message yet

    def call(self, event: Event, invocation: Invocation) -> Stdout | Value:
        """Send one event to the running binary: its reply line, or the envelope's decoded result."""
        payload = event.stdin(self.config.stdin)
        if self._envelope:
            self._sequence += 1
            head = b'{"id":%d,"context":%b,"event":' % (self._sequence, codec.dumps(invocation.describe()))
            message: tuple[bytes, ...] = (head, payload, b"}\n")
        else:
            message = (payload, b"\n")
        child, written = self._exchange(message, invocation)
        if not child.alive and not self.lines.complete() and child.unread_input() == written:
            # It exited as the event arrived (between calls, in effect) without reading any of it:
            # nothing was processed, so a new process may safely take the event.
            logs.warn(f"the binary (pid {child.pid}) exited between calls with status {child.returncode} "
                      f"(as the event arrived, unread); restarting it")
            self._discard()
            child, _ = self._exchange(message, invocation)
        if not self.lines.complete():
            error = self._died_mid_call(child.returncode)
            self._discard()
            raise error
        line = self.lines.take()  # a view, valid until the next call moves past it
        if self._envelope:
            return Value(self._open_envelope(line))
        return Stdout(line)

    def _exchange(self, message: tuple[bytes, ...], invocation: Invocation) -> tuple[Child, int]:
        """Send one message and pump until the reply line is complete or the process has exited; the
        process, and how many bytes of the message the pipe took (all still unread: never consumed)."""
        child = self._begin(invocation)
        self._unasked = False
        return child, self._pump(invocation, self.lines.complete, send=message)

    def _start(self, invocation: Invocation) -> Child:
        self._unasked = True
        return self.program.start(self.program.environ, big_pipes=True)

    def _idle_fault(self, child: Child) -> str:
        """An exit, or output outside a call: stray output means the framing is out of step."""
        stray = child.check_idle() or self.lines.pending() > 0
        self.lines.next_line()
        if not child.alive:
            return f"the binary (pid {child.pid}) exited between calls with status {child.returncode}"
        if stray and self._unasked:  # before its first message: a greeting (a banner, "ready"), not a reply
            self._log_greeting(child)
            return ""
        if stray:
            return f"the binary (pid {child.pid}) wrote output outside a call, so its framing is out of step"
        return ""

    def _log_greeting(self, child: Child) -> None:
        """Log what the binary wrote to stdout before it was sent anything, as it logs stderr; the framing
        starts after it. (Started at the first call instead of at init, a greeting may arrive with the reply,
        and lines framing cannot tell them apart.)"""
        greeting = StreamLog("stdout")  # nothing pumped its stdout yet: all of it is still in the pipe
        while child.stdout >= 0 and select.select([child.stdout], [], [], 0)[0]:
            data = os.read(child.stdout, 1 << 16)
            if not data:
                break
            greeting.feed(data)
        greeting.flush()
        logs.warn(f"the binary (pid {child.pid}) wrote {greeting.bytes_seen} bytes to stdout before its first "
                  f"message: logged above, not taken for a reply")

    def _died_mid_call(self, returncode: int | None) -> Exception:
        if returncode is None or returncode == 0:
            held = self.lines.storage.used
            partial = f" after {held} bytes of an unfinished reply" if held else ""
            return BinaryExitError(f"the binary exited with status {returncode} before replying{partial}; "
                                   f"stderr: {self.stderr.tail()}")
        error = exit_error(returncode, self.stderr)
        if isinstance(error, (BinaryExitError, BinarySignalError)):
            return type(error)(f"{error} (mid-call; the next call starts a new process)")
        return error

    def _open_envelope(self, line: memoryview) -> object:
        try:
            reply = codec.loads(line)
        except codec.Unrepresentable as exc:  # one whole line: the binary is still in step
            raise InvalidOutput(f"the binary's reply cannot be returned exactly: {exc}") from None
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
            error = binary_error(reply["error"])
            if error is None:
                raise BinaryProtocolError(f"malformed error reply: {reply['error']!r}")
            raise error
        if "result" not in reply:
            raise BinaryProtocolError("the binary's reply has neither result nor error")
        result = reply["result"]
        cap = self.config.max_output_bytes
        if len(line) > cap and len(codec.dumps(result)) > cap:  # the result's bytes, framing excluded
            raise too_large(cap)
        return result

    def _forget(self) -> None:
        self.lines.clear()
