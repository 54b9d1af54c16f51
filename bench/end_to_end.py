"""End-to-end benchmark: what Lambda bills, measured the way Lambda runs the function.

    python bench/end_to_end.py [--starts N] [--calls N]     (./build.sh bench runs it after run.py)

A loopback Runtime API (bridge.runtime_server) drives each case's runtime process as Lambda would:
init is the time from spawning the runtime to its first ``next`` request; a warm call is the time from
handing it a 1 KB event to its response being posted. The function is ``dist/exec-bridge.zip`` exactly as
``./build.sh package`` writes it, unzipped and made read-only; the Python cases run the real awslambdaric
under the runtime's Python version (``.venv-lambda``, made by ``./build.sh deps``), interleaved start by
start with an empty Python handler unzipped the same way and with ``bin/runtime_go`` run natively.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge import log_records  # noqa: E402
from bridge.logs import StreamLog  # noqa: E402
from bridge.process import Child  # noqa: E402
from bridge.runtime_server import Delivery, RuntimeServer  # noqa: E402

SIZES = {"1 KB": 1000, "1 MB": 1024 * 1024}
EMPTY_HANDLER = "def handler(event, context):\n    return event\n"
# What a user would write instead of the bridge (the bar issue 23 sets), written out as they would.
NAIVE_HANDLER = """import json, os, subprocess

BIN = os.path.join(os.environ["LAMBDA_TASK_ROOT"], "bin", "hello")


def handler(event, context):
    p = subprocess.run([BIN], input=json.dumps(event).encode(), capture_output=True,
                       timeout=context.get_remaining_time_in_millis() / 1000 - 0.5)
    if p.returncode:
        raise RuntimeError(p.stderr.decode(errors="replace"))
    return json.loads(p.stdout)
"""


LAMBDA_PYTHON = ROOT / ".venv-lambda" / "bin" / "python"


def task_root(scratch: Path) -> Path:
    """The deployment package, unzipped (``unzip`` keeps the modes) and read-only, as /var/task is; with a
    C line echo for persistent mode (examples/persistent/lines.c) beside the shipped binaries."""
    task = scratch / "task"
    subprocess.run(["unzip", "-q", str(ROOT / "dist" / "exec-bridge.zip"), "-d", str(task)], check=True)
    (task / "empty.py").write_text(EMPTY_HANDLER)
    (task / "naive.py").write_text(NAIVE_HANDLER)
    cc = ["musl-gcc", "-static"] if shutil.which("musl-gcc") else ["gcc", "-static"]
    subprocess.run([*cc, "-O2", "-o", str(task / "bin" / "lines"), str(ROOT / "examples" / "persistent" / "lines.c")],
                   check=True)
    for path in [task, *task.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    return task


def cases(task: Path, interpreter: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    python = [interpreter, "-m", "awslambdaric"]
    return {
        "empty Python handler": ([*python, "empty.handler"], {}),
        "naive subprocess handler (`bin/hello`)": ([*python, "naive.handler"], {}),
        "exec-bridge oneshot (`bin/hello`)": ([*python, "handler.handler"], {"BRIDGE_BINARY": "bin/hello"}),
        "exec-bridge persistent (C line echo)": ([*python, "handler.handler"],
                                                 {"BRIDGE_BINARY": "bin/lines", "BRIDGE_MODE": "persistent"}),
        "exec-bridge runtime-api, proxy (`bin/runtime_go`)": (
            [*python, "handler.handler"],
            {"BRIDGE_MODE": "runtime-api", "BRIDGE_RUNTIME_API": "proxy", "BRIDGE_BINARY": "bin/runtime_go"}),
        "exec-bridge runtime-api, handoff (`bin/runtime_go`)": (
            [*python, "handler.handler"], {"BRIDGE_MODE": "runtime-api", "BRIDGE_BINARY": "bin/runtime_go"}),
        "`bin/runtime_go` as a native bootstrap": ([str(task / "bin" / "runtime_go")], {}),
    }


def start(argv: list[str], extra: dict[str, str], cwd: Path):
    """Spawn the runtime in ``cwd`` against a new server; (child, server, log, init seconds)."""
    server = RuntimeServer()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "PYTHONPYCACHEPREFIX"))}
    # The task root keeps no bytecode (read-only on Lambda); the interpreter's own library has its cache.
    env.update(extra, AWS_LAMBDA_RUNTIME_API=server.address, _HANDLER=argv[-1], LAMBDA_TASK_ROOT=str(cwd),
               PYTHONDONTWRITEBYTECODE="1")
    log = StreamLog("runtime")
    here = os.getcwd()
    os.chdir(cwd)
    try:
        began = time.perf_counter()
        child = Child(tuple(argv), env)
    finally:
        os.chdir(here)
    child.pump(time.monotonic() + 30, log, log, done=server.ready, peer=server, close_stdin=True)
    return child, server, log, time.perf_counter() - began


def call(child: Child, server: RuntimeServer, log: StreamLog, number: int, event: bytes) -> float:
    request_id = f"bench-{number}"
    delivery = Delivery(request_id, event, {"Content-Type": "application/json", "Lambda-Runtime-Aws-Request-Id":
                                            request_id, "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) +
                                                                                          60000),
                                            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:bench",
                                            "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000"})
    began = time.perf_counter()
    server.offer(delivery)
    child.pump(time.monotonic() + 30, log, log, done=delivery.done, peer=server)
    took = time.perf_counter() - began
    if delivery.outcome != "response":
        raise SystemExit(f"the runtime answered {delivery.outcome}: {delivery.answer[:200]!r}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=15, help="cold starts per case (default: 15)")
    parser.add_argument("--calls", type=int, default=300, help="warm 1 KB calls per case, a tenth at 1 MB "
                        "(default: 300)")
    args = parser.parse_args()
    log_records._writer = log_records.Writer({}, log_records.INFO, fd=os.open(os.devnull, os.O_WRONLY))
    interpreter = str(LAMBDA_PYTHON) if LAMBDA_PYTHON.exists() else sys.executable
    with tempfile.TemporaryDirectory(prefix="exec-bridge-e2e-") as tmp:
        task = task_root(Path(tmp))
        table = cases(task, interpreter)
        inits: dict[str, list[float]] = {name: [] for name in table}
        warm: dict[tuple[str, str], list[float]] = {(name, size): [] for name in table for size in SIZES}
        events = {size: b'{"body":"' + b"x" * length + b'"}' for size, length in SIZES.items()}
        for round_number in range(args.starts):  # interleaved: machine noise hits every case alike
            for name, (argv, extra) in table.items():
                child, server, log, init = start(argv, extra, task)
                inits[name].append(init)
                try:
                    if round_number == 0:
                        for size, event in events.items():
                            for number in range(args.calls if size == "1 KB" else max(10, args.calls // 10)):
                                warm[name, size].append(call(child, server, log, number, event))
                finally:
                    child.kill()
                    server.close()
    version = subprocess.run([interpreter, "-c", "import sys; print(sys.version.split()[0])"], check=True,
                             capture_output=True, text=True).stdout.strip()
    if not LAMBDA_PYTHON.exists():
        print(f"**No .venv-lambda (no interpreter of the runtime's version): this runs Python {version}, which "
              f"cannot use the package's bytecode or its orjson.**\n")
    print(f"End to end: awslambdaric under Python {version}, the unzipped read-only package, a loopback Runtime API, "
          f"{args.starts} cold starts and {args.calls} warm calls of a 1 KB event per case, medians.\n")
    base_init = statistics.median(inits["empty Python handler"]) * 1000
    naive_init = statistics.median(inits["naive subprocess handler (`bin/hello`)"]) * 1000
    base = {size: statistics.median(warm["empty Python handler", size]) * 1e6 for size in SIZES}
    naive = {size: statistics.median(warm["naive subprocess handler (`bin/hello`)", size]) * 1e6 for size in SIZES}
    print("| handler | init ms | − empty | − naive | warm 1 KB µs | ÷ empty | ÷ naive | warm 1 MB µs | ÷ empty | "
          "÷ naive |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in table:
        init = statistics.median(inits[name]) * 1000
        cells = []
        for size in SIZES:
            per_call = statistics.median(warm[name, size]) * 1e6
            cells += [f"{per_call:,.0f}", f"{per_call / base[size]:.2f}", f"{per_call / naive[size]:.2f}"]
        print(f"| {name} | {init:.1f} | {init - base_init:+.1f} | {init - naive_init:+.1f} | " + " | ".join(cells)
              + " |")


if __name__ == "__main__":
    main()
