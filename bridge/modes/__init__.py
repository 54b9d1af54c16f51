"""One module per way of running the binary (``types.Mode``), all on the pipe core in ``bridge.process``.

Every mode answers ``call(event, invocation)`` with a ``types.Reply`` and has ``close()``. Long-lived
modes (persistent, runtime-api) share their start, restart, discard and stop in ``long_lived``.
"""

from __future__ import annotations

import importlib

from ..config import Mode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..types import Mode as ModeProtocol

# Imported on demand: runtime-api mode pulls in http.server, which a oneshot cold start can do without.
_MODULES = {
    Mode.ONESHOT: ("oneshot", "Oneshot"),
    Mode.PERSISTENT: ("persistent", "Persistent"),
    Mode.RUNTIME_API: ("runtime_api", "RuntimeApi"),
    Mode.CGI: ("cgi", "Cgi"),
}


def mode_class(mode: Mode) -> type[ModeProtocol]:
    """The class that runs ``mode``, its module imported now."""
    module, name = _MODULES[mode]
    return getattr(importlib.import_module(f".{module}", __package__), name)
