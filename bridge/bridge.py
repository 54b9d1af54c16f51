"""The bridge as a whole: configured once per cold start, then invoked once per event."""

from __future__ import annotations

import importlib
import os

from . import binary, codec, output
from .config import Config
from .context import Invocation

# Imported on demand: runtime-api mode pulls in http.server, which a oneshot cold start can do without.
MODES = {
    "oneshot": ("oneshot", "Oneshot"),
    "persistent": ("persistent", "Persistent"),
    "runtime-api": ("runtime_api", "RuntimeApi"),
}


def mode_class(name: str) -> type:
    module, cls = MODES[name]
    return getattr(importlib.import_module(f".modes.{module}", __package__), cls)


class Bridge:
    """Runs the configured binary for each event and returns its result or raises a typed error."""

    __slots__ = ("config", "program", "mode")

    def __init__(self, config: Config) -> None:
        self.config = config
        path = binary.prepare(config.task_root, config.binary)
        self.program = binary.Program(path, config.args, binary.base_environment(os.environ))
        self.mode = mode_class(config.mode)(self.program, config)

    @classmethod
    def from_environ(cls, task_root: str) -> Bridge:
        return cls(Config.from_environ(task_root))

    def invoke(self, event: object, context: object) -> object:
        """One Lambda invocation: ``event`` to the binary's stdin, its stdout back as the result."""
        invocation = Invocation(context, self.config.timeout_margin_ms)
        reply = self.mode.call(codec.dumps(event), invocation)
        if type(reply) is output.Decoded:
            return reply.value
        return output.decode(reply, self.config.output)

    def close(self) -> None:
        self.mode.close()
