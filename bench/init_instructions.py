"""Init, counted in instructions rather than timed: what ``import handler`` adds to the python runtime's own
imports, per mode, beside the module of the naive subprocess handler a user would write instead.

    python bench/init_instructions.py     (./build.sh bench runs it after end_to_end.py)

``valgrind --tool=callgrind`` counts the instructions of the interpreter running the runtime's own imports
(what the python3.12 runtime has imported before it imports the handler), then ``import MODULE`` from the
unzipped read-only package: repeatable to 0.1 %, where 21 cold starts' wall clock cannot tell 2 ms from noise.
A binary the mode starts at init (persistent, proxy) runs outside the count: valgrind follows no child.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from end_to_end import LAMBDA_PYTHON, task_root  # noqa: E402

RUNTIME_IMPORTS = "import json, logging, os, sys, time, traceback, enum, decimal, math, importlib, re, threading"
CASES = {
    "naive subprocess handler (`json, os, subprocess`)": ("naive", {}),
    "exec-bridge oneshot (`bin/hello`)": ("handler", {"BRIDGE_BINARY": "bin/hello"}),
    "exec-bridge persistent (C line echo)": ("handler", {"BRIDGE_BINARY": "bin/lines", "BRIDGE_MODE": "persistent"}),
    "exec-bridge runtime-api, proxy (`bin/runtime_go`)": ("handler", {"BRIDGE_BINARY": "bin/runtime_go",
                                                                       "BRIDGE_MODE": "runtime-api",
                                                                       "BRIDGE_RUNTIME_API": "proxy"}),
}


def instructions(python: str, task: Path, module: str | None, settings: dict[str, str]) -> int:
    code = f"{RUNTIME_IMPORTS}\nsys.path.insert(0, '.')\n" + (f"import {module}\n" if module else "")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "PYTHON"))}
    env.update(settings, PYTHONDONTWRITEBYTECODE="1", LAMBDA_TASK_ROOT=str(task))
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", python, "-c", code],
                          cwd=task, env=env, capture_output=True, text=True, timeout=600)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"valgrind: {module} {settings} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    if shutil.which("valgrind") is None:
        print("bench/init_instructions.py: no valgrind here (apt-get install valgrind): skipped")
        return
    python = str(LAMBDA_PYTHON) if LAMBDA_PYTHON.exists() else sys.executable
    with tempfile.TemporaryDirectory(prefix="exec-bridge-init-") as scratch:
        task = task_root(Path(scratch))
        base = instructions(python, task, None, {})
        added = {name: instructions(python, task, module, settings) - base
                 for name, (module, settings) in CASES.items()}
    naive = added["naive subprocess handler (`json, os, subprocess`)"]
    print(f"Init in instructions (callgrind): the runtime's own imports, then `import` of the handler's module "
          f"from the unzipped package; the runtime's imports alone: {base / 1e6:.1f} M.\n")
    print("| module | instructions added | ÷ naive |\n|---|---:|---:|")
    for name, count in added.items():
        print(f"| {name} | {count / 1e6:.1f} M | {count / naive:.2f} |")


if __name__ == "__main__":
    main()
