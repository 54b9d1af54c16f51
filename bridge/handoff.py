"""Runtime-api mode's handoff (``BRIDGE_RUNTIME_API=handoff``): the bootstrap replaces the interpreter.

When a runtime client imports the handler module it has not yet asked Lambda for an event. If the bridge
then execs the custom runtime's ``bootstrap`` in its place (same PID, the environment with Lambda's real
``AWS_LAMBDA_RUNTIME_API``), the bootstrap talks to Lambda itself, exactly as on ``provided.al2023``: no
proxy, no second HTTP hop per call. It is what wrapper scripts (``AWS_LAMBDA_EXEC_WRAPPER``) do, done from
the handler module, so the function stays an ordinary python3 function with ``handler: handler.handler``.
"""

from __future__ import annotations

import _signal  # signal's own functions and constants, without signal.py's enum classes
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import NoReturn

    from .binary import Program
    from .config import Config


def requested(environ: Mapping[str, str]) -> bool:
    """Runtime-api mode with handoff (the default), and a runtime client importing the handler: Lambda (or
    the emulator) gave it a Runtime API. Read from the environment alone, before the bridge is imported:
    a handoff's init imports nothing it does not need."""
    return (environ.get("BRIDGE_MODE", "").strip().lower() == "runtime-api"
            and environ.get("BRIDGE_RUNTIME_API", "").strip().lower() in ("", "handoff")
            and bool(environ.get("AWS_LAMBDA_RUNTIME_API")))


def hand_over(task_root: str) -> NoReturn:
    """Check the settings and the binary (typed init errors), then become the bootstrap."""
    from . import binary
    from .config import Config

    config = Config.from_environ(task_root)
    program = binary.program(config.task_root, config.binary, config.args, binary.base_environment(os.environ))
    exec_bootstrap(program, config)


def bootstrap_environment(program: Program, config: Config) -> dict[str, str]:
    """What the bootstrap expects on provided.al2023: ``_HANDLER``, ``LAMBDA_TASK_ROOT``, and the rest
    of the function's environment (``AWS_LAMBDA_RUNTIME_API`` included)."""
    env = dict(program.environ)
    env["_HANDLER"] = config.handler or os.path.basename(program.name)
    env["LAMBDA_TASK_ROOT"] = config.task_root
    return env


def _close_on_exec_beyond_stdio() -> None:
    """Nothing of the interpreter's stays open in the bootstrap: descriptors past 2 close at exec (and
    stay usable if the exec fails, so the init error can still be reported)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            try:
                os.set_inheritable(fd, False)
            except OSError:  # the directory's own descriptor, already gone
                pass


def exec_bootstrap(program: Program, config: Config) -> NoReturn:
    """Become the bootstrap. Returns only by raising the typed error of an exec that failed."""
    env = bootstrap_environment(program, config)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved_stdin = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # a custom runtime reads its events over HTTP: stdin is at end of file
    os.close(devnull)
    _close_on_exec_beyond_stdio()
    ignored = _default_ignored_signals()
    blocked = _signal.pthread_sigmask(_signal.SIG_SETMASK, ())
    try:
        os.execve(program.path, program.argv, env)
    except OSError as exc:
        from .binary import spawn_error

        _signal.pthread_sigmask(_signal.SIG_SETMASK, blocked)
        for sig in ignored:
            _signal.signal(sig, _signal.SIG_IGN)
        os.dup2(saved_stdin, 0)
        raise spawn_error(program.path, exc) from None


def _default_ignored_signals() -> list[int]:
    """Set each ignored signal to its default action (only ignored ones survive exec); which they were."""
    from .binary import SIGNALS_TO_DEFAULT

    ignored = [sig for sig in SIGNALS_TO_DEFAULT if _signal.getsignal(sig) == _signal.SIG_IGN]
    for sig in ignored:
        _signal.signal(sig, _signal.SIG_DFL)
    return ignored
