"""Write the deployable zip: exactly what Lambda needs, the same bytes for the same inputs.

    python scripts/package.py --bin DIR --out dist/exec-bridge.zip

Holds handler.py, bridge/ (no __pycache__, none of the DEVELOPER_TOOLS), every file of DIR as bin/* with
mode 0755 recorded, and orjson unpacked from the manylinux wheel for the runtime's Python version and the
architecture that serverless.yml names. Entries are sorted and timestamped 1980-01-01, so the zip is reproducible.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# Run on a developer's machine, never on Lambda: the local CLI and the emulator.
DEVELOPER_TOOLS = {"bridge/cli.py", "bridge/emulator.py"}
WHEEL_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}


def service_settings(serverless_yml: Path) -> tuple[str, str]:
    """(runtime, architecture) from the provider section, without a YAML dependency."""
    text = serverless_yml.read_text()
    provider = re.search(r"^provider:\n((?:[ \t]+.*\n|\n)*)", text, re.MULTILINE)
    block = provider.group(1) if provider else ""
    runtime = re.search(r"^\s+runtime:\s*['\"]?([\w.]+)", block, re.MULTILINE)
    architecture = re.search(r"^\s+architecture:\s*['\"]?(\w+)", block, re.MULTILINE)
    return (runtime.group(1) if runtime else "python3.12", architecture.group(1) if architecture else "x86_64")


def orjson_requirement() -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip().startswith("orjson"):
            return line.strip()
    raise SystemExit("package.py: requirements.txt pins no orjson")


def fetch_wheel(runtime: str, architecture: str, scratch: Path) -> Path:
    version = runtime.removeprefix("python")
    abi = "cp" + version.replace(".", "")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--only-binary=:all:", "--platform", WHEEL_PLATFORMS[architecture], "--python-version", version,
         "--implementation", "cp", "--abi", abi, "--dest", str(scratch), orjson_requirement()],
        check=True,
    )
    wheels = sorted(scratch.glob("orjson-*.whl"))
    if not wheels:
        raise SystemExit(f"package.py: no orjson wheel for {runtime} on {architecture}")
    return wheels[0]


def entries(bin_dir: Path, wheel: Path) -> list[tuple[str, bytes, int]]:
    """(name in the zip, content, unix mode) for everything that goes in."""
    items = [("handler.py", (ROOT / "handler.py").read_bytes(), 0o644)]
    for path in sorted((ROOT / "bridge").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name not in DEVELOPER_TOOLS:
            items.append((name, path.read_bytes(), 0o644))
    for path in sorted(bin_dir.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            items.append((f"bin/{path.name}", path.read_bytes(), 0o755))
    with zipfile.ZipFile(wheel) as whl:
        for info in whl.infolist():
            if info.is_dir() or (".dist-info/" in info.filename and "LICENSE" not in info.filename.upper()):
                continue  # of the wheel's metadata only its licence files travel
            items.append((info.filename, whl.read(info), 0o644))
    return sorted(items)


def write_zip(out: Path, items: list[tuple[str, bytes, int]]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data, mode in items:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.create_system = 3  # Unix: the mode bits below are honoured by unzip and Lambda
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    partial.replace(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", type=Path, required=True, help="the built binaries for the target")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    runtime, architecture = service_settings(ROOT / "serverless.yml")
    with tempfile.TemporaryDirectory(prefix="exec-bridge-wheel-") as scratch:
        wheel = fetch_wheel(runtime, architecture, Path(scratch))
        items = entries(args.bin, wheel)
        write_zip(args.out, items)
    print(f"{args.out}: {runtime}, {architecture}, {len(items)} files, {args.out.stat().st_size:,} bytes")
    for name, data, mode in items:
        if not name.startswith(("bridge/", "orjson/")):
            print(f"  {oct(mode)[2:]} {len(data):>10,} {name}")
    print(f"  and {sum(n.startswith('bridge/') for n, _, _ in items)} files under bridge/, "
          f"{sum(n.startswith('orjson') for n, _, _ in items)} from the orjson wheel ({wheel.name})")


if __name__ == "__main__":
    main()
