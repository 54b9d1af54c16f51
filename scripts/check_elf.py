"""The checks every ELF file passes before it is packed: it can run on Lambda, or it names why not.

    python scripts/check_elf.py [--arch x86_64|aarch64] PATH...     (a directory: every file under it)

For each ELF file (binaries, a bundle's libraries and plugins): the architecture; the glibc symbol versions
it needs, against what it will run with (Lambda's 2.34, or its bundle's own glibc); and every library it
needs, which must be in its bundle, or be glibc's own where Lambda provides glibc. Static binaries pass;
scripts and data are not ELF and are skipped. Exit status 1 with one line per problem, each naming the
file, what it lacks and the fix.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import elf  # noqa: E402

BUNDLE = ".bundle"
FIX = "bundle it (./build.sh bundle PROGRAM, or put it in prebuilt/, which bundles dynamic programs)"


def bundle_of(path: Path) -> Path | None:
    """The bundle directory ``path`` belongs to: an ancestor ``NAME.bundle``, or its sibling for a program."""
    sibling = path.with_name(path.name + BUNDLE)
    if sibling.is_dir():
        return sibling
    return next((parent for parent in path.parents if parent.name.endswith(BUNDLE)), None)


def problems(path: Path, arch: str) -> list[str]:
    item = elf.read(path)
    if item is None:
        return []
    if item.machine != elf.MACHINES[arch]:
        return [f"{path} is built for {item.machine}, not {arch}: rebuild it for {arch}, or set ARCH"]
    if not item.dynamic:
        return []
    bundle = bundle_of(path)
    manifest = json.loads((bundle / "bundle.json").read_text()) if bundle and (bundle / "bundle.json").exists() else {}
    own = bool(manifest.get("loader"))
    libraries = bundle / "lib" if bundle else None
    found: list[str] = []
    if own:
        assert libraries is not None
        libc = elf.read(libraries / "libc.so.6")
        allowed, runs_with = (libc.glibc_defined if libc else ()), "its bundle's own glibc"
        if not (bundle / manifest["loader"]).exists():
            found.append(f"{path}: its bundle has no loader {manifest['loader']}: rebuild it with ./build.sh bundle")
    else:
        allowed, runs_with = elf.LAMBDA_GLIBC, "Lambda's glibc (Amazon Linux 2023)"
    if item.newest_glibc > allowed and not elf.glibc_family(path.name):
        found.append(f"{path} needs {item.glibc_needed[item.newest_glibc]} but {runs_with} is "
                     f"{elf.shown(allowed) or 'missing'}: {FIX}, which ships its own glibc when anything needs more")
    if item.private and not own and not elf.glibc_family(path.name):
        found.append(f"{path} needs GLIBC_PRIVATE, which ties it to the glibc it was built with: {FIX}")
    for soname in item.needed:
        if elf.glibc_family(soname) and not own:
            continue  # Lambda's own
        if libraries is not None and (libraries / soname).exists():
            continue
        where = f"its bundle ({libraries})" if libraries else "the package (Lambda's runtime provides only glibc)"
        found.append(f"{path} needs {soname}, which {where} does not hold: {FIX}")
    return found


def files(paths: list[Path]) -> list[Path]:
    every = []
    for path in paths:
        every += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return every


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default=os.environ.get("ARCH") or os.uname().machine, choices=sorted(elf.MACHINES))
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    found = [problem for path in files(args.paths) for problem in problems(path, args.arch)]
    for problem in found:
        print(f"check: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
