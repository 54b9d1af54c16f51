"""Make a dynamically linked program a self-contained bundle that runs on Lambda (``./build.sh bundle``).

    python scripts/bundle.py PROGRAM [--name NAME] [--bin DIR] [--with DIR[:DEST]]... [--env NAME=VALUE]...

Writes ``DIR/NAME`` (the program) and ``DIR/NAME.bundle/``: ``lib/`` with the closure of its shared
libraries (``DT_NEEDED``, recursively, from the program and from every ELF file under a ``--with``
directory, so ``dlopen``ed plugins bring theirs), the ``--with`` directories, and ``bundle.json``, which
the bridge reads at init. Nothing is resolved from the build machine at run time: every file finds its
libraries by a ``$ORIGIN``-relative ``RUNPATH`` (patchelf), never by the function's ``LD_LIBRARY_PATH``.

Which glibc: when the program and every library need at most ``GLIBC_2.34`` (Amazon Linux 2023's),
they use Lambda's own, and glibc's family (libc, libm, libpthread, libdl, librt, libresolv, the loader)
is left out. Otherwise the bundle carries the loader and the glibc it was built against, and the bridge
starts the program as ``lib/ld-linux-*.so.* --library-path lib --argv0 PROGRAM PROGRAM ...``. It says which
path it took and why (the file and symbol version that needed more).

``--env NAME=VALUE`` sets a variable for the bundled program only (``VALUE``: paths relative to the
bundle directory, ``:``-separated), e.g. ImageMagick's ``MAGICK_CODER_MODULE_PATH``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import elf  # noqa: E402

MANIFEST = "bundle.json"


def closure(roots: list[elf.Elf]) -> tuple[dict[str, Path], dict[str, str]]:
    """Every library the roots need, transitively: (soname: file on this machine, soname: what is missing
    and who needs it)."""
    found: dict[str, Path] = {}
    missing: dict[str, str] = {}
    pending = list(roots)
    while pending:
        item = pending.pop()
        for soname in item.needed:
            if soname in found or soname in missing:
                continue
            path = elf.resolve(soname, item)
            if path is None:
                missing[soname] = str(item.path)
                continue
            found[soname] = path
            library = elf.read(path)
            if library is not None:
                pending.append(library)
    return found, missing


def newest_need(files: list[elf.Elf]) -> tuple[tuple[int, ...], str]:
    """The newest glibc version any file needs, and which file and symbol version need it."""
    newest: tuple[tuple[int, ...], str] = ((), "")
    for item in files:
        if item.glibc_needed and item.newest_glibc > newest[0] and not elf.glibc_family(item.path.name):
            newest = (item.newest_glibc, f"{item.path.name} needs {item.glibc_needed[item.newest_glibc]}")
    return newest


def patch_runpath(path: Path, runpath: str) -> None:
    subprocess.run(["patchelf", "--set-rpath", runpath, str(path)], check=True)


def copy_file(source: Path, target: Path, mode: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)  # follows links: the zip holds files, never links
    target.chmod(mode)


def bundle(program: Path, name: str, bin_dir: Path, withs: list[tuple[Path, str]], env: dict[str, str],
           machine: str) -> dict:
    """Write the bundle; its manifest."""
    root = elf.read(program)
    if root is None or not root.dynamic:
        raise SystemExit(f"bundle: {program} is not a dynamically linked ELF program: nothing to bundle "
                         f"(a static binary goes in prebuilt/ as it is)")
    if root.machine != elf.MACHINES[machine]:
        raise SystemExit(f"bundle: {program} is built for {root.machine}, not {machine}")
    target = bin_dir / name
    directory = bin_dir / f"{name}.bundle"
    if directory.exists():
        shutil.rmtree(directory)
    data_files: list[Path] = []
    for source, dest in withs:
        if not source.is_dir():
            raise SystemExit(f"bundle: --with {source}: not a directory")
        shutil.copytree(source, directory / dest, symlinks=False)
        data_files += [path for path in (directory / dest).rglob("*") if path.is_file()]
    plugins = [item for item in map(elf.read, data_files) if item is not None and item.dynamic]
    libraries, missing = closure([root, *plugins])
    if missing:
        raise SystemExit("bundle: not found on this machine: " + ", ".join(
            f"{soname} (needed by {who})" for soname, who in sorted(missing.items())) +
            ": install the package that has it, or point --with at its directory")
    every = [root, *plugins, *(item for item in map(elf.read, libraries.values()) if item is not None)]
    newest, why = newest_need(every)
    private = next((item.path.name for item in every if item.private and not elf.glibc_family(item.path.name)),
                   "")
    own_glibc = bool(private) or (bool(newest) and newest > elf.LAMBDA_GLIBC)
    lib = directory / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    for soname, path in sorted(libraries.items()):
        if elf.glibc_family(soname) and not own_glibc:
            continue
        copy_file(path, lib / soname, 0o644)
        if not elf.glibc_family(soname):
            patch_runpath(lib / soname, "$ORIGIN")
    copy_file(program, target, 0o755)
    patch_runpath(target, f"$ORIGIN/{name}.bundle/lib")
    for plugin in plugins:
        patch_runpath(plugin.path, "$ORIGIN/" + os.path.relpath(lib, plugin.path.parent))
    manifest: dict = {"program": name, "env": env, "loader": None}
    if own_glibc:
        loader_name = Path(root.interpreter).name
        copy_file(Path(root.interpreter), lib / loader_name, 0o755)
        libc = elf.read(lib / "libc.so.6")
        bundled = elf.shown(libc.glibc_defined) if libc is not None else "?"
        manifest["loader"] = f"lib/{loader_name}"
        manifest["glibc"] = f"its own, {bundled}"
        manifest["why"] = (f"{private} needs GLIBC_PRIVATE (it is tied to the glibc it was built with)" if private
                           else f"{why}, and Lambda (Amazon Linux 2023) has {elf.shown(elf.LAMBDA_GLIBC)}")
    else:
        manifest["glibc"] = f"Lambda's, {elf.shown(elf.LAMBDA_GLIBC)}"
        manifest["why"] = f"everything needs at most GLIBC_{elf.shown(newest)} ({why})" if newest else \
            "nothing needs a versioned glibc symbol"
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("program", help="the program: a path, or a name found on PATH")
    parser.add_argument("--name", help="bin/NAME (default: the program's file name)")
    parser.add_argument("--bin", type=Path, default=Path("bin"), help="where to write it (default: bin)")
    parser.add_argument("--with", dest="withs", action="append", default=[], metavar="DIR[:DEST]",
                        help="copy a directory of data (or plugins) into the bundle, as DEST (default: its name)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="a variable for the program only; VALUE: paths relative to the bundle, ':'-separated")
    parser.add_argument("--arch", default=os.uname().machine, choices=sorted(elf.MACHINES))
    args = parser.parse_args(argv)
    found = shutil.which(args.program) if "/" not in args.program else args.program
    if not found or not Path(found).exists():
        raise SystemExit(f"bundle: {args.program}: no such program")
    program = Path(found).resolve()
    name = args.name or Path(found).name
    withs = []
    for spec in args.withs:
        source, _, dest = spec.partition(":")
        withs.append((Path(source).resolve(), dest or Path(source).name))
    env = {}
    for spec in args.env:
        variable, equals, value = spec.partition("=")
        if not equals or not variable.isidentifier():
            raise SystemExit(f"bundle: --env {spec!r}: not NAME=VALUE")
        env[variable] = value
    args.bin.mkdir(parents=True, exist_ok=True)
    manifest = bundle(program, name, args.bin, withs, env, args.arch)
    total = size_of(args.bin / name) + size_of(args.bin / f"{name}.bundle")
    libraries = sorted(p.name for p in (args.bin / f"{name}.bundle" / "lib").iterdir())
    print(f"bundled {args.bin / name} from {program}: {total:,} bytes, {len(libraries)} libraries; "
          f"glibc: {manifest['glibc']}, because {manifest['why']}")


if __name__ == "__main__":
    main()
