"""What the build needs to know of an ELF file, read with pyelftools: its machine, whether it is dynamic,
the libraries it needs and where it looks for them, and the glibc versions its symbols need.

Libraries are resolved as the dynamic loader would on this machine, without running anything (``ldd``
runs the program's loader, which a build must not do to a binary it was handed): the requirer's own
``RUNPATH``/``RPATH`` (``$ORIGIN`` expanded), then ``ldconfig``'s cache, then the default directories.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

LAMBDA_GLIBC = (2, 34)  # Amazon Linux 2023, every python3.1x runtime
MACHINES = {"x86_64": "EM_X86_64", "aarch64": "EM_AARCH64"}
# glibc's own libraries and its loader: one build, always shipped together, and on Lambda already.
GLIBC_FAMILY = re.compile(r"^(?:(?:libc|libm|libpthread|libdl|librt|libresolv|libutil|libanl|libBrokenLocale|libmvec|"
                          r"libthread_db|libc_malloc_debug|libnss_\w+)\.so\.\d+|ld-linux[\w.-]*\.so\.\d+)$")
DEFAULT_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib",
                "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu")


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def shown(numbers: tuple[int, ...]) -> str:
    return ".".join(map(str, numbers))


class Elf:
    """One ELF file, read once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with open(path, "rb") as file:
            elf = ELFFile(file)
            self.machine: str = elf["e_machine"]
            self.interpreter = ""
            for segment in elf.iter_segments():
                if segment["p_type"] == "PT_INTERP":
                    self.interpreter = segment.get_interp_name()
            self.needed: list[str] = []
            self.search: list[str] = []  # RUNPATH, else RPATH, as written ($ORIGIN unexpanded)
            self.soname = ""
            dynamic = elf.get_section_by_name(".dynamic")
            rpath: list[str] = []
            if dynamic is not None and hasattr(dynamic, "iter_tags"):
                for tag in dynamic.iter_tags():
                    kind = tag.entry.d_tag
                    if kind == "DT_NEEDED":
                        self.needed.append(tag.needed)
                    elif kind == "DT_RUNPATH":
                        self.search = tag.runpath.split(":")
                    elif kind == "DT_RPATH":
                        rpath = tag.rpath.split(":")
                    elif kind == "DT_SONAME":
                        self.soname = tag.soname
            self.search = self.search or rpath
            self.glibc_needed: dict[tuple[int, ...], str] = {}  # version: a symbol version name that needs it
            self.private = False  # needs GLIBC_PRIVATE: tied to the exact glibc build it came with
            versions = elf.get_section_by_name(".gnu.version_r")
            if versions is not None and hasattr(versions, "iter_versions"):
                for _, auxiliaries in versions.iter_versions():
                    for aux in auxiliaries:
                        if aux.name == "GLIBC_PRIVATE":
                            self.private = True
                        elif aux.name.startswith("GLIBC_2"):
                            self.glibc_needed[version(aux.name[len("GLIBC_"):])] = aux.name
            self.glibc_defined: tuple[int, ...] = ()  # for libc itself: the newest version it provides
            definitions = elf.get_section_by_name(".gnu.version_d")
            if definitions is not None and hasattr(definitions, "iter_versions"):
                for _, auxiliaries in definitions.iter_versions():
                    for aux in auxiliaries:
                        if aux.name.startswith("GLIBC_2"):
                            self.glibc_defined = max(self.glibc_defined, version(aux.name[len("GLIBC_"):]))

    @property
    def dynamic(self) -> bool:
        return bool(self.interpreter or self.needed)

    @property
    def newest_glibc(self) -> tuple[int, ...]:
        return max(self.glibc_needed, default=())

    def search_dirs(self) -> list[Path]:
        origin = str(self.path.resolve().parent)
        return [Path(entry.replace("$ORIGIN", origin).replace("${ORIGIN}", origin)) for entry in self.search if entry]


def read(path: Path) -> Elf | None:
    """The ELF file at ``path``, or None for anything else (a script, data)."""
    try:
        return Elf(path)
    except (ELFError, OSError, ValueError):
        return None


def glibc_family(soname: str) -> bool:
    return bool(GLIBC_FAMILY.match(soname))


@functools.cache
def _ldconfig_cache() -> dict[str, str]:
    """soname: path, from ldconfig's cache (this machine's architecture only)."""
    done = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=False)
    found: dict[str, str] = {}
    for line in done.stdout.splitlines()[1:]:
        name, _, rest = line.strip().partition(" (")
        flags, _, path = rest.partition(") => ")
        if path and ("x86-64" in flags) == (os.uname().machine == "x86_64"):
            found.setdefault(name, path)
    return found


def resolve(soname: str, requirer: Elf, extra_dirs: tuple[Path, ...] = ()) -> Path | None:
    """Where the loader would find ``soname`` for ``requirer`` on this machine (``extra_dirs`` first)."""
    for directory in [*extra_dirs, *requirer.search_dirs()]:
        candidate = directory / soname
        if candidate.exists():
            return candidate
    cached = _ldconfig_cache().get(soname)
    if cached:
        return Path(cached)
    for directory in DEFAULT_DIRS:
        candidate = Path(directory) / soname
        if candidate.exists():
            return candidate
    return None
