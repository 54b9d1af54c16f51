"""A bundle made by ``./build.sh bundle``: ``bin/NAME`` with its libraries, data and ``bundle.json`` in
``bin/NAME.bundle/``. Read once, at init: the variables only the bundled program sees, and, for a bundle
that carries its own glibc, the loader that starts it (``--library-path`` instead of ``LD_LIBRARY_PATH``,
so nothing the program starts inherits the bundle's libraries; ``--argv0`` so its argv[0] is its own).
"""

from __future__ import annotations

import os

from . import codec
from .errors import BinaryFormatError

SUFFIX = ".bundle"
MANIFEST = "bundle.json"


def read(located: str) -> dict | None:
    """The manifest of the bundle whose program is ``located``, or None when it is no bundle."""
    directory = located + SUFFIX
    try:
        with open(os.path.join(directory, MANIFEST), "rb") as file:
            manifest = codec.loads(file.read())
    except FileNotFoundError:
        return None
    except (OSError, codec.DecodeError) as exc:
        raise BinaryFormatError(f"{directory}/{MANIFEST} cannot be read: {exc}; rebuild it with ./build.sh "
                                f"bundle") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("env", {}), dict):
        raise BinaryFormatError(f"{directory}/{MANIFEST} is not a bundle manifest; rebuild it with ./build.sh bundle")
    return manifest


def environment(located: str, manifest: dict, environ: dict[str, str]) -> dict[str, str]:
    """The function's environment plus the bundle's own variables, their paths made absolute."""
    directory = located + SUFFIX
    env = dict(environ)
    for name, value in manifest.get("env", {}).items():
        env[name] = ":".join(os.path.join(directory, part) for part in str(value).split(":"))
    return env


def loader_argv(located: str, manifest: dict) -> tuple[str, tuple[str, ...]] | None:
    """(the loader, its arguments before the program's own) for a bundle with its own glibc, else None."""
    loader = manifest.get("loader")
    if not loader:
        return None
    directory = located + SUFFIX
    return os.path.join(directory, loader), ("--library-path", os.path.join(directory, "lib"), "--argv0", located,
                                             located)
