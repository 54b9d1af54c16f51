"""Write the deployable zip: exactly what Lambda needs, the same bytes for the same inputs.

    python scripts/package.py --bin DIR --out dist/exec-bridge.zip

Holds handler.py, bridge/ (none of the DEVELOPER_TOOLS) with their bytecode compiled by the runtime's Python
version, every file of DIR as bin/* with mode 0755 recorded (a bundle's files under bin/NAME.bundle/ as they
were made), and orjson (with httptools, when a function of
serverless.yml runs a custom runtime) unpacked from the manylinux wheels for that Python version and the
architecture that serverless.yml names. Entries are sorted and timestamped
1980-01-01, so the zip is reproducible. Unzipped it must fit Lambda's 250 MB, or it is refused.

The bytecode is "unchecked-hash" .pyc: a read-only task root keeps no bytecode cache, and zip timestamps
make timestamp-checked .pyc stale, so without it every cold start compiles the bridge (~15 ms); the zip
never changes once built, so the interpreter need not check the sources. Sources stay, for tracebacks.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# Run on a developer's machine, never on Lambda: the local CLI and the emulator.
DEVELOPER_TOOLS = {"bridge/cli.py", "bridge/emulator.py", "bridge/sandbox.py"}
WHEEL_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
UNZIPPED_LIMIT = 262_144_000  # Lambda's 250 MB: a function's code and its layers, unzipped


def service_settings(serverless_yml: Path) -> tuple[str, str]:
    """(runtime, architecture) from the provider section, without a YAML dependency."""
    text = serverless_yml.read_text()
    provider = re.search(r"^provider:\n((?:[ \t]+.*\n|\n)*)", text, re.MULTILINE)
    block = provider.group(1) if provider else ""
    runtime = re.search(r"^\s+runtime:\s*['\"]?([\w.]+)", block, re.MULTILINE)
    architecture = re.search(r"^\s+architecture:\s*['\"]?(\w+)", block, re.MULTILINE)
    return (runtime.group(1) if runtime else "python3.12", architecture.group(1) if architecture else "x86_64")


COMPILE = """
import py_compile, sys
args = sys.argv[1:]
for source, target, name in zip(args[0::3], args[1::3], args[2::3]):
    py_compile.compile(source, target, dfile=name, doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
"""


def target_python(runtime: str) -> str | None:
    """An interpreter of the runtime's version (python3.12 on PATH, or one pyenv installed), or None."""
    version = runtime.removeprefix("python")
    found = shutil.which(f"python{version}")
    candidates = [found] if found else []
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates += sorted(str(p) for p in pyenv_root.glob(f"versions/{version}.*/bin/python{version}"))
    for candidate in candidates:
        done = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip() == version:
            return candidate
    return None


def bytecode(python: str, sources: list[tuple[str, bytes]], scratch: Path) -> list[tuple[str, bytes, int]]:
    """(name in the zip, .pyc, mode) for each (name, source), compiled by ``python`` into __pycache__."""
    tag = subprocess.run([python, "-c", "import sys; print(sys.implementation.cache_tag)"], check=True,
                         capture_output=True, text=True).stdout.strip()
    work, args, names = scratch / "bytecode", [], []
    for name, data in sources:
        source = work / name
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(data)
        compiled = (Path(name).parent / "__pycache__" / f"{Path(name).stem}.{tag}.pyc").as_posix()
        args += [str(source), str(work / compiled), name]  # the name in the zip: the same bytes every build
        names.append(compiled)
    subprocess.run([python, "-c", COMPILE, *args], check=True)
    return [(name, (work / name).read_bytes(), 0o644) for name in names]


def requirements(serverless_yml: Path, layer: bool) -> list[str]:
    """The pinned runtime dependencies this zip needs: orjson always; httptools (the Runtime API server's
    parser) for a layer, which may serve any function, or when a function runs a custom runtime."""
    pins = {line.split("==")[0].strip(): line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
            if "==" in line and not line.lstrip().startswith("#")}
    if "orjson" not in pins or "httptools" not in pins:
        raise SystemExit("package.py: requirements.txt must pin orjson and httptools")
    custom_runtime = re.search(r"^\s+BRIDGE_MODE:\s*['\"]?runtime-api", serverless_yml.read_text(), re.MULTILINE)
    return [pins["orjson"], *([pins["httptools"]] if layer or custom_runtime else [])]


def fetch_wheels(runtime: str, architecture: str, pins: list[str], scratch: Path) -> list[Path]:
    """The manylinux wheel of each pin for the runtime's Python and the architecture."""
    version = runtime.removeprefix("python")
    abi = "cp" + version.replace(".", "")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--only-binary=:all:", "--platform", WHEEL_PLATFORMS[architecture], "--python-version", version,
         "--implementation", "cp", "--abi", abi, "--dest", str(scratch), *pins],
        check=True,
    )
    wheels = []
    for pin in pins:
        found = sorted(scratch.glob(f"{pin.split('==')[0]}-*.whl"))
        if not found:
            raise SystemExit(f"package.py: no {pin} wheel for {runtime} on {architecture}")
        wheels.append(found[0])
    return wheels


def entries(bin_dir: Path | None, wheels: list[Path], python: str | None, scratch: Path,
            prefix: str = "") -> list[tuple[str, bytes, int]]:
    """(name in the zip, content, unix mode) for everything that goes in; the Python part under ``prefix``
    (a layer's ``python/``), the binaries only for a function's zip (``bin_dir``)."""
    sources = [(f"{prefix}handler.py", (ROOT / "handler.py").read_bytes())]
    for path in sorted((ROOT / "bridge").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name not in DEVELOPER_TOOLS:
            sources.append((prefix + name, path.read_bytes()))
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as whl:
            for info in whl.infolist():
                if info.is_dir() or (".dist-info/" in info.filename and "LICENSE" not in info.filename.upper()):
                    continue  # of the wheel's metadata only its licence files travel
                sources.append((prefix + info.filename, whl.read(info)))
    items = [(name, data, 0o644) for name, data in sources]
    if python is not None:  # bytecode for every Python source, the wheels' too: imported at a cold start
        items += bytecode(python, [(name, data) for name, data in sources if name.endswith(".py")], scratch)
    for path in sorted(bin_dir.rglob("*")) if bin_dir is not None else ():
        relative = path.relative_to(bin_dir)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            # bin/* is what runs: 0755 whatever the build machine said; in a bundle, executable as it was made.
            mode = 0o755 if len(relative.parts) == 1 or path.stat().st_mode & 0o111 else 0o644
            items.append((f"bin/{relative.as_posix()}", path.read_bytes(), mode))
    return sorted(items)


def check_size(items: list[tuple[str, bytes, int]]) -> int:
    """The unzipped size; refused past Lambda's limit, naming what takes the room."""
    unzipped = sum(len(data) for _, data, _ in items)
    if unzipped > UNZIPPED_LIMIT:
        by_top: dict[str, int] = {}
        for name, data, _ in items:
            top = "/".join(name.split("/")[:2])
            by_top[top] = by_top.get(top, 0) + len(data)
        largest = ", ".join(f"{name} {size:,}" for name, size in sorted(by_top.items(), key=lambda i: -i[1])[:5])
        raise SystemExit(f"package.py: unzipped, the package is {unzipped:,} bytes, over Lambda's 250 MB "
                         f"({UNZIPPED_LIMIT:,}); the largest: {largest}. Bundle fewer plugins or data (--with), "
                         f"or deploy a container image")
    return unzipped


def write_zip(out: Path, items: list[tuple[str, bytes, int]]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    # Level 6: a 165 MB bundled pandoc zips in 5 s instead of 20 s at level 9, for 1.5 % more bytes.
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, data, mode in items:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.create_system = 3  # Unix: the mode bits below are honoured by unzip and Lambda
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    partial.replace(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", type=Path, help="the built binaries for the target (a function's zip)")
    parser.add_argument("--layer", action="store_true",
                        help="a Lambda layer instead: python/handler.py, python/bridge/, orjson, httptools; "
                             "no binaries")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--runtime", help="pythonX.Y to build for (default: serverless.yml's; a container image's "
                                          "base may have another)")
    args = parser.parse_args()
    runtime, architecture = service_settings(ROOT / "serverless.yml")
    runtime = args.runtime or runtime
    python = target_python(runtime)
    if python is None:
        print(f"package.py: no {runtime} interpreter here (on PATH or from pyenv): the zip has no bytecode, "
              f"so every cold start compiles the bridge (~15 ms); install {runtime} to ship it", file=sys.stderr)
    if not args.layer and args.bin is None:
        parser.error("--bin is required for a function's zip")
    with tempfile.TemporaryDirectory(prefix="exec-bridge-wheel-") as scratch:
        wheels = fetch_wheels(runtime, architecture, requirements(ROOT / "serverless.yml", args.layer), Path(scratch))
        prefix = "python/" if args.layer else ""
        items = entries(None if args.layer else args.bin, wheels, python, Path(scratch), prefix)
        unzipped = check_size(items)
        write_zip(args.out, items)
    print(f"{args.out}: {runtime}, {architecture}, {len(items)} files, {args.out.stat().st_size:,} bytes; unzipped "
          f"{unzipped:,} bytes, {unzipped / UNZIPPED_LIMIT:.0%} of Lambda's 250 MB")
    packages = tuple(f"{wheel.name.split('-')[0]}" for wheel in wheels)
    for name, data, mode in items:
        if not name.removeprefix("python/").startswith(("bridge/", *packages)):
            print(f"  {oct(mode)[2:]} {len(data):>10,} {name}")
    bridge_files = sum(n.removeprefix("python/").startswith("bridge/") for n, _, _ in items)
    compiler = python or "nobody: no interpreter of the runtime"
    from_wheels = ", ".join(f"{sum(n.removeprefix('python/').startswith(package) for n, _, _ in items)} from "
                            f"{wheel.name}" for package, wheel in zip(packages, wheels, strict=True))
    print(f"  and {bridge_files} files under bridge/ (bytecode by {compiler}); {from_wheels}")

if __name__ == "__main__":
    main()
