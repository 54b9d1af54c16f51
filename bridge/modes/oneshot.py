"""Oneshot mode: a fresh process per invocation, the event on stdin then EOF, the reply all of stdout."""

from __future__ import annotations

from ..binary import Program
from ..capture import Collected, Storage
from ..errors import BinaryStderrError, exit_error, timeout_error
from ..logs import StreamLog
from ..process import BIG_PIPE
from ..pump import DeadlineExceeded
from ..reply import Stdout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..config import Config
    from ..event import Event
    from ..invocation import Invocation
    from ..types import Sink

_SMALL = 1 << 16


class Oneshot:
    http_only = False
    independent_calls = True
    __slots__ = ("program", "config", "storage", "on_files")

    def __init__(self, program: Program, config: Config) -> None:
        self.program = program
        self.config = config
        self.storage = Storage()  # reused by every call: a large reply's pages stay mapped
        # BRIDGE_ARGS names {input} or {output} (bridge.workdir, imported only then)
        self.on_files = any("{input" in arg or "{output" in arg for arg in config.args)

    def call(self, event: Event, invocation: Invocation) -> Stdout:
        payload = event.stdin(self.config.stdin)
        if not self.on_files:
            return Stdout(self.run(payload, invocation))
        return Stdout(memoryview(self._run_on_files(payload, invocation)))

    def _run_on_files(self, payload: bytes, invocation: Invocation) -> bytes | memoryview:
        """``{input}``/``{output}`` in the arguments: the payload in a file, the reply from a file (stdout,
        then, is log output), in a directory of this call's own (``workdir``)."""
        from ..workdir import CallDirectory, writes_output

        program, args = self.program, self.program.argv[1:]
        with CallDirectory() as files:
            files.write_input(args, payload)
            on_files = Program(program.path, files.argv(args), program.environ, program.name)
            if not writes_output(args):
                return bytes(self.run(b"", invocation, program=on_files))
            self.run(b"", invocation, program=on_files, stdout_is_log=True)
            return files.read_output(args, self.config.max_output_bytes)

    def run(self, payload: bytes, invocation: Invocation, env: dict[str, str] | None = None,
            framing: int = 0, *, program: Program | None = None, stdout_is_log: bool = False) -> memoryview:
        """Run the binary once on ``payload``; its stdout, or a typed error. ``env`` replaces the function's
        environment with the invocation's (CGI mode's own) and ``framing`` adds to the bytes stdout may hold
        beyond the reply (CGI mode's header section). ``program``: this call's argv (files in, files out),
        whose stdout may be log output. The view is valid until the next run."""
        config = self.config
        program = program or self.program
        big = len(payload) > _SMALL
        if env is None:
            env = invocation.environ(program.environ)
        child = program.start(env, big_pipes=big, small_input=not big)
        stdout: Sink = (StreamLog("stdout", invocation.request_id) if stdout_is_log else
                        Collected(config.max_output_bytes, self.storage, BIG_PIPE if big else _SMALL, framing))
        stderr = StreamLog("stderr", invocation.request_id)
        try:
            child.pump(invocation.deadline, stdout, stderr, send=(payload,), close_stdin=True)
        except DeadlineExceeded:
            raise timeout_error(invocation.elapsed_ms(), config.timeout_margin_ms, stderr) from None
        finally:
            stderr.flush()
            if isinstance(stdout, StreamLog):
                stdout.flush()
            child.kill()
        if child.returncode != 0:
            assert child.returncode is not None
            raise exit_error(child.returncode, stderr)
        if config.stderr_is_error and stderr.bytes_seen:
            raise BinaryStderrError(
                f"the binary exited 0 but wrote to stderr (BRIDGE_STDERR_IS_ERROR): {stderr.tail()}"
            )
        return stdout.output() if isinstance(stdout, Collected) else memoryview(b"")

    def start(self) -> None:
        """Nothing outlives a call in this mode."""

    def close(self) -> None:
        """Nothing outlives a call in this mode."""
