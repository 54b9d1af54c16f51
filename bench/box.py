"""Memory in the box: each mode echoing a 6 MB event at Lambda's smallest common memory size, 128 MB, side
by side with an empty Python handler in the same box (the emulator's --sandbox on the zip).

    python bench/box.py [--payload BYTES] [--calls N]     (./build.sh bench runs it last, where podman is)

The figure is the container's cgroup peak: everything in the box (runtime client, bridge, binary, their
page cache). The target is the empty handler's peak plus twice the payload (the event in and the answer out).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODES = {
    "empty Python handler": ({"BRIDGE_BINARY": "bin/echo"}, "empty.handler"),
    "exec-bridge oneshot (C echo)": ({"BRIDGE_BINARY": "bin/echo"}, "handler.handler"),
    "exec-bridge persistent (C line echo)": ({"BRIDGE_BINARY": "bin/echo", "BRIDGE_ARGS": "-l",
                                              "BRIDGE_MODE": "persistent"}, "handler.handler"),
    "exec-bridge runtime-api, proxy (`bin/runtime_go`)": ({"BRIDGE_BINARY": "bin/runtime_go",
                                                          "BRIDGE_MODE": "runtime-api",
                                                          "BRIDGE_RUNTIME_API": "proxy"}, "handler.handler"),
    "exec-bridge runtime-api, handoff (`bin/runtime_go`)": ({"BRIDGE_BINARY": "bin/runtime_go",
                                                            "BRIDGE_MODE": "runtime-api"}, "handler.handler"),
}


def task_root(scratch: Path) -> Path:
    """The package for the box's Python (./build.sh image lays it out), with the echo binary and an empty
    handler beside it, read-only."""
    context = scratch / "context"
    done = subprocess.run([str(ROOT / "build.sh"), "image"], capture_output=True, text=True,
                          env=dict(os.environ, IMAGE_CONTEXT=str(context),
                                   IMAGE_TAG="localhost/exec-bridge-bench:latest"))
    if done.returncode != 0:
        raise SystemExit(f"./build.sh image failed:\n{done.stderr[-3000:]}")
    task = scratch / "task"
    shutil.copytree(context / "task", task)
    cc = ["musl-gcc", "-static"] if shutil.which("musl-gcc") else ["gcc", "-static"]
    subprocess.run([*cc, "-O2", "-o", str(task / "bin" / "echo"), str(ROOT / "bench" / "echo.c")], check=True)
    (task / "empty.py").write_text("def handler(event, context):\n    return event\n")
    for path in [task, *task.rglob("*")]:
        path.chmod((path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0)) & ~0o222)
    return task


def peak(task: Path, settings: dict[str, str], handler: str, event: bytes, calls: int) -> float:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    done = subprocess.run([sys.executable, "-m", "bridge.emulator", "--sandbox", "--task-root", str(task),
                           "--memory-mb", "128", "--handler", handler, "--timeout", "60"],
                          input=b"\n".join([event] * calls), capture_output=True, cwd=ROOT, timeout=600,
                          env={**environ, **settings})
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    if done.returncode != 0 or len(lines) != calls or any("error" in line for line in lines):
        raise SystemExit(f"{handler} {settings}: failed in the box\n{done.stderr.decode()[-2000:]}")
    found = re.search(rb"sandbox: peak memory ([\d.]+) MiB", done.stderr)
    if found is None:
        raise SystemExit(f"no peak memory reported:\n{done.stderr.decode()[-2000:]}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payload", type=int, default=5_900_000, help="the event's size (default: %(default)s)")
    parser.add_argument("--calls", type=int, default=3, help="events per box (default: %(default)s)")
    args = parser.parse_args()
    if shutil.which("podman") is None:
        print("bench/box.py: no podman here (./build.sh image installs it): the memory table is skipped")
        return
    event = json.dumps({"data": base64.b64encode(os.urandom(args.payload * 3 // 4)).decode()}).encode()
    with tempfile.TemporaryDirectory(prefix="exec-bridge-box-") as scratch:
        task = task_root(Path(scratch))
        peaks = {name: peak(task, settings, handler, event, args.calls) for name, (settings, handler) in MODES.items()}
    floor = peaks["empty Python handler"]
    target = floor + 2 * len(event) / 2**20
    print(f"In the box (read-only root, uid 993, 128 MB, frozen between calls): {args.calls} calls of a "
          f"{len(event):,}-byte event, echoed; the container's cgroup peak.\n")
    print(f"| handler | peak MiB | − empty handler | target ≤ {target:.1f} MiB |\n|---|---:|---:|---|")
    for name, value in peaks.items():
        verdict = "—" if name == "empty Python handler" else ("met" if value <= target else "missed")
        print(f"| {name} | {value:.1f} | {value - floor:+.1f} | {verdict} |")


if __name__ == "__main__":
    main()
