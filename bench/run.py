"""exec-bridge benchmark: per-invocation latency against the floors, cold start, peak memory.

    ./build.sh bench [--quick]

Everything runs pinned to CPU 0 (parent and children alike, as on a small Lambda). Latency is measured
in-process over many calls after a warm-up; the floors are C programs doing the same work in the same
run. Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge import codec, log_records  # noqa: E402
from bridge.bridge import Bridge  # noqa: E402
from bridge.config import Config  # noqa: E402
from bridge.context import LocalContext  # noqa: E402

SIZES = {"1 KB": 1024, "100 KB": 100 * 1024, "1 MB": 1024 * 1024, "6 MB": 6 * 1024 * 1024 - 4096}
ROUNDS = {"1 KB": 3000, "100 KB": 600, "1 MB": 120, "6 MB": 30}


def api_gateway_event(size: int) -> dict:
    """A realistic API Gateway (REST, proxy) event whose body is a JSON document, about ``size`` bytes."""
    event = {
        "resource": "/orders", "path": "/orders", "httpMethod": "POST",
        "headers": {"Content-Type": "application/json", "Host": "abc123.execute-api.eu-west-1.amazonaws.com",
                    "User-Agent": "curl/8.5.0", "X-Forwarded-For": "203.0.113.9"},
        "multiValueHeaders": {}, "queryStringParameters": {"verbose": "1"}, "pathParameters": None,
        "requestContext": {"accountId": "123456789012", "apiId": "abc123", "stage": "prod",
                           "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "httpMethod": "POST",
                           "identity": {"sourceIp": "203.0.113.9"}, "requestTimeEpoch": 1700000000000},
        "body": "", "isBase64Encoded": False,
    }
    item = {"sku": "SKU-000000", "qty": 3, "price": 12.5, "note": "ünïcödé and \"quotes\""}
    # Size it arithmetically: each item costs the same once encoded twice (into the body, then the event).
    per_item = len(json.dumps(json.dumps(item) + ", ")) - 2
    count = max(0, (size - len(json.dumps(event))) // per_item)
    items = [dict(item, sku=f"SKU-{n:06d}") for n in range(count)]
    event["body"] = json.dumps({"orderId": 42, "items": items})
    return event


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


BLOCKS = 5  # each case runs in blocks interleaved with its floor's, so machine noise hits both alike


def time_block(call, rounds: int) -> list[float]:
    for _ in range(rounds // 10 + 1):
        call()
    samples = []
    clock = time.perf_counter
    for _ in range(rounds):
        start = clock()
        call()
        samples.append((clock() - start) * 1e6)
    return samples


def c_floor_block(floors: Path, kind: str, echo: Path, payload_file: Path, rounds: int) -> list[float]:
    out = subprocess.run([str(floors), kind, str(echo), str(payload_file), str(rounds)], capture_output=True,
                         check=True)
    return [float(word) for word in out.stdout.split()]


def node_trick(echo: Path, event: dict, rounds: int, scratch: Path) -> tuple[float, float] | str:
    node = shutil.which("node")
    if node is None:
        return "node not installed"
    path = scratch / "event.json"
    path.write_text(json.dumps(event))
    out = subprocess.run([node, str(ROOT / "bench" / "node_exec.js"), str(echo), str(path), str(rounds)],
                         capture_output=True, text=True)
    words = out.stdout.split()
    if not words or words[0] == "FAIL":
        return " ".join(words[1:]) or out.stderr.strip().splitlines()[-1]
    return float(words[0]), float(words[1])


def plain_event(size: int) -> dict:
    """The same event with a body free of backslashes and quotes, which the shell leaves intact."""
    event = api_gateway_event(size)
    event["body"] = "x" * len(event["body"])
    return event


def bridge_for(echo: Path, **settings: str) -> Bridge:
    env = {"BRIDGE_BINARY": str(echo)} | {f"BRIDGE_{k.upper()}": v for k, v in settings.items()}
    return Bridge(Config.from_environ(str(ROOT), env))


def compile_bench(scratch: Path) -> tuple[Path, Path]:
    musl = shutil.which("musl-gcc")
    cc = [musl, "-static"] if musl else ["gcc", "-static"]
    echo, floors = scratch / "echo", scratch / "floors"
    subprocess.run([*cc, "-O2", "-o", str(echo), str(ROOT / "bench" / "echo.c")], check=True)
    subprocess.run(["gcc", "-O2", "-o", str(floors), str(ROOT / "bench" / "floors.c")], check=True)
    return echo, floors


def invoking(bridge: Bridge, event: dict, context: LocalContext):
    return lambda: bridge.invoke(event, context)


def latency_table(echo: Path, floors: Path, scratch: Path, quick: bool) -> None:
    print("| case | size | median µs | p99 µs | ratio |\n|---|---|---:|---:|---:|", flush=True)
    # BRIDGE_HTTP=off times the bridge's own path; one row shows the default HTTP shaping on top.
    bridges = {
        "oneshot": bridge_for(echo, http="off"),
        "oneshot, HTTP shaping": bridge_for(echo),
        "persistent, lines": bridge_for(echo, mode="persistent", framing="lines", args="-l", http="off"),
        "persistent, envelope": bridge_for(echo, mode="persistent", framing="envelope", args="-e", http="off"),
        "runtime-api": bridge_for(ROOT / "bin" / "runtime_go", mode="runtime-api", runtime_api="proxy", http="off"),
    }
    try:
        for label, size in SIZES.items():
            rounds = max(BLOCKS * 4, ROUNDS[label] // (5 if quick else 1))
            block = rounds // BLOCKS
            event = api_gateway_event(size)
            payload = codec.dumps(event)
            (scratch / "payload").write_bytes(payload)
            (scratch / "line").write_bytes(payload + b"\n")
            context = LocalContext(timeout_s=900)
            samples: dict[str, list[float]] = {}
            for _ in range(BLOCKS):
                for name, kind, file in (("spawn", "spawn", "payload"), ("line", "line", "line")):
                    samples.setdefault(name, []).extend(c_floor_block(floors, kind, echo, scratch / file, block))
                samples.setdefault("json", []).extend(
                    time_block(lambda e=event: codec.loads(codec.dumps(e)), block))
                for name, bridge in bridges.items():
                    samples.setdefault(name, []).extend(time_block(invoking(bridge, event, context), block))
            stats = {name: percentiles(values) for name, values in samples.items()}
            json_median = stats["json"][0]
            spawn_floor, line_floor = stats["spawn"][0], stats["line"][0]
            rows = [
                ("C floor: posix_spawn + pipes (F1)", stats["spawn"], ""),
                ("C floor: one line through a long-lived child (F2)", stats["line"], ""),
                ("exact JSON encode + decode alone (J: `bridge.codec`, its fidelity checks included)",
                 stats["json"], ""),
                ("exec-bridge oneshot", stats["oneshot"], ratio(stats["oneshot"], spawn_floor, json_median)),
                ("exec-bridge oneshot + HTTP shaping (proxy response)", stats["oneshot, HTTP shaping"],
                 ratio(stats["oneshot, HTTP shaping"], spawn_floor, json_median)),
                ("exec-bridge persistent, lines", stats["persistent, lines"],
                 ratio(stats["persistent, lines"], line_floor, json_median)),
                ("exec-bridge persistent, envelope", stats["persistent, envelope"],
                 ratio(stats["persistent, envelope"], line_floor, json_median)),
                ("exec-bridge runtime-api (Go stdlib runtime over HTTP)", stats["runtime-api"],
                 ratio(stats["runtime-api"], line_floor, json_median)),
            ]
            for name, value, note in rows:
                print(f"| {name} | {label} | {value[0]:,.1f} | {value[1]:,.1f} | {note} |", flush=True)
            realistic = node_trick(echo, event, 10, scratch)
            plain = node_trick(echo, plain_event(size), max(10, rounds // 4), scratch)
            if isinstance(realistic, str):
                print(f"| Node exec trick, this event | {label} | fails: {realistic} | | |")
            if isinstance(plain, str):
                print(f"| Node exec trick, backslash-free body | {label} | fails: {plain} | | |", flush=True)
            else:
                print(f"| Node exec trick, backslash-free body | {label} | {plain[0]:,.1f} | {plain[1]:,.1f} | "
                      f"{plain[0] / stats['oneshot'][0]:.1f}× oneshot |", flush=True)
    finally:
        for bridge in bridges.values():
            bridge.close()


def ratio(value: tuple[float, float], floor: float, json_median: float) -> str:
    """×F: against the C floor alone; ×(F+J): against the floor plus the unavoidable JSON work."""
    return f"{value[0] / floor:.2f}× F, {value[0] / (floor + json_median):.2f}× (F+J)"


def hello_vs_subprocess(rounds: int = 2000) -> list[str]:
    """The shipped C ``hello`` at 1 KB: exec-bridge oneshot against plain subprocess.run + JSON."""
    hello = ROOT / "bin" / "hello"
    event = api_gateway_event(SIZES["1 KB"])
    context = LocalContext(timeout_s=900)
    bridge = bridge_for(hello, http="off")

    def plain() -> object:
        done = subprocess.run([str(hello)], input=codec.dumps(event), capture_output=True, check=True)
        return codec.loads(done.stdout)

    try:
        ours, theirs = [], []
        for _ in range(BLOCKS):
            ours += time_block(invoking(bridge, event, context), rounds // BLOCKS)
            theirs += time_block(plain, rounds // BLOCKS)
    finally:
        bridge.close()
    (ours_median, ours_p99), (theirs_median, theirs_p99) = percentiles(ours), percentiles(theirs)
    return [
        "| `bin/hello`, 1 KB event, in-process | median µs | p99 µs |", "|---|---:|---:|",
        f"| exec-bridge oneshot | {ours_median:,.1f} | {ours_p99:,.1f} |",
        f"| `subprocess.run` + {codec.BACKEND} | {theirs_median:,.1f} | {theirs_p99:,.1f} |",
    ]


def stderr_throughput(scratch: Path, megabytes: int = 100, runs: int = 3) -> list[str]:
    """100 MB of 100-byte stderr lines through one oneshot call, each line a record of the function's log
    format, written where the runtime would write it (here: /dev/null), against the binary alone."""
    flood = scratch / "misbehave"
    cc = ["musl-gcc", "-static"] if shutil.which("musl-gcc") else ["gcc", "-static"]
    subprocess.run([*cc, "-O2", "-o", str(flood), str(ROOT / "tests" / "binaries" / "misbehave.c")], check=True)
    size = megabytes * 1024 * 1024
    null = open(os.devnull, "wb", 0)  # noqa: SIM115 - closed below
    bridge = bridge_for(flood, args=f"stderr-flood {size}", http="off")
    context = LocalContext(timeout_s=900)
    cases = {
        "text, to stderr (the CLI; outside the runtime)": ({}, False),
        "JSON, to stderr": ({"AWS_LAMBDA_LOG_FORMAT": "JSON"}, False),
        "text, framed on the telemetry channel (Lambda)": ({}, True),
        "JSON, framed on the telemetry channel (Lambda)": ({"AWS_LAMBDA_LOG_FORMAT": "JSON"}, True),
    }
    rows = [f"| {megabytes} MB of stderr lines, one oneshot call | s (median of {runs}) | × the binary alone |",
            "|---|---:|---:|"]
    alone = statistics.median(_timed(lambda: subprocess.run([str(flood), "stderr-flood", str(size)], input=b"{}",
                                                             stdout=subprocess.DEVNULL, stderr=null, check=True))
                              for _ in range(runs))
    rows.append(f"| the binary alone, stderr to /dev/null | {alone:.2f} | 1.00 |")
    try:
        for label, (env, framed) in cases.items():
            log_records._writer = log_records.Writer(env, log_records.INFO, null.fileno(), framed=framed,
                                                     runtime=framed)
            took = statistics.median(_timed(lambda: bridge.invoke({}, context)) for _ in range(runs))
            rows.append(f"| {label} | {took:.2f} | {took / alone:.2f} |")
    finally:
        bridge.close()
        null.close()
        log_records.configure()
    return rows


def batch_concurrency(scratch: Path, runs: int = 5) -> list[str]:
    """Ten standard-queue records of 50 ms each, through one oneshot call, one and two at a time."""
    worker = scratch / "hostile"
    cc = ["musl-gcc", "-static"] if shutil.which("musl-gcc") else ["gcc", "-static"]
    subprocess.run([*cc, "-O2", "-o", str(worker), str(ROOT / "tests" / "binaries" / "hostile.c")], check=True,
                   stderr=subprocess.DEVNULL)
    template = json.loads((ROOT / "events" / "sqs.json").read_text())["Records"][0]
    event = {"Records": [dict(template, messageId=f"m{n}", body="sleep=50") for n in range(10)]}
    context = LocalContext(timeout_s=900)
    rows = ["| ten 50 ms SQS records, one call (BRIDGE_BATCH=records) | ms (median of 5) |", "|---|---:|"]
    os.sched_setaffinity(0, range(os.cpu_count() or 1))  # concurrency needs the CPUs the binaries sleep on
    try:
        for concurrency in (1, 2):
            bridge = bridge_for(worker, args="record", batch="records", batch_concurrency=str(concurrency))
            try:
                took = statistics.median(_timed(invoking(bridge, event, context)) for _ in range(runs))
            finally:
                bridge.close()
            rows.append(f"| concurrency {concurrency} | {took * 1000:.0f} |")
    finally:
        os.sched_setaffinity(0, {0})
    return rows


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _median_wall(argv: list[str], env: dict, runs: int = 31) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, cwd=ROOT, capture_output=True)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


# What the python3.12 runtime has imported before it imports the handler module.
RUNTIME_PRELUDE = "import json, logging, os, sys, time, traceback, enum, decimal, math, importlib; "


def cold_start(echo: Path, scratch: Path) -> list[str]:
    """Wall-clock start-up in the source tree, after the modules Lambda's runtime has already imported, with
    the bridge's bytecode cached (the deployed zip ships it; the end-to-end table, bench/end_to_end.py,
    measures the zip itself under the real runtime client)."""
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    base.update(BRIDGE_BINARY=str(echo))
    variants = {"bytecode cached, as the zip ships it": dict(base, PYTHONPYCACHEPREFIX=str(scratch / "pycache"))}
    python = [sys.executable]
    first_call = (RUNTIME_PRELUDE + "import handler; from bridge.context import LocalContext; "
                  "handler.handler({'a': 1}, LocalContext())")
    rows = ["| cold start, ms (wall, median of 31) | " + " | ".join(variants) + " |", "|---|---:|"]
    results = {}
    for name, env in variants.items():
        subprocess.run([*python, "-c", "import handler"], env=env, cwd=ROOT, check=True)  # warms the cache
        bare = _median_wall([*python, "-c", RUNTIME_PRELUDE], env)
        imported = _median_wall([*python, "-c", RUNTIME_PRELUDE + "import handler"], env)
        orjson_only = _median_wall([*python, "-c", RUNTIME_PRELUDE + "import orjson"], env)
        first = _median_wall([*python, "-c", first_call], env)
        results[name] = (bare, imported - bare, orjson_only - bare, first - imported)
    labels = ["python with the runtime's own imports", "**`import handler` adds**",
              "`import orjson` would add (now done after a megabyte of JSON)", "first invocation adds (1 KB, oneshot)"]
    for i, label in enumerate(labels):
        rows.append(f"| {label} | " + " | ".join(f"{results[n][i]:.1f}" for n in variants) + " |")
    return rows


PEAK = ("import atexit, sys; atexit.register(lambda: sys.stderr.write(next(l for l in open('/proc/self/status') "
        "if l.startswith('VmHWM')))); ")


def peak_rss(echo: Path, scratch: Path) -> list[str]:
    """Each case's own high-water mark (VmHWM: ru_maxrss would carry this parent's over exec)."""
    event_file = scratch / "event6.json"
    event_file.write_bytes(codec.dumps(api_gateway_event(SIZES["6 MB"])))
    env = dict(os.environ, BRIDGE_BINARY=str(echo), BRIDGE_HTTP="off")
    rows = ["| peak RSS (VmHWM of a separate process) | MiB |", "|---|---:|"]
    for label, code in [
        ("bare python", "pass"),
        ("import handler", "import handler"),
        ("import handler, read and parse the 6 MB event", "import handler, sys; from bridge import codec; "
         "codec.loads(sys.stdin.buffer.read())"),
        ("… and invoke oneshot on it (echoed back)", "import handler, sys; from bridge import codec; "
         "from bridge.context import LocalContext; handler.handler(codec.loads(sys.stdin.buffer.read()), "
         "LocalContext())"),
    ]:
        with open(event_file, "rb") as stdin:
            done = subprocess.run([sys.executable, "-c", PEAK + code], stdin=stdin, env=env, cwd=ROOT,
                                  capture_output=True, text=True, check=True)
        kib = int(done.stderr.strip().splitlines()[-1].split()[1])
        rows.append(f"| {label} | {kib / 1024:.1f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a fifth of the rounds (a smoke run)")
    parser.add_argument("--skip-latency", action="store_true", help="only hello, cold start and memory")
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})  # children inherit it: parent and binary share one CPU
    with tempfile.TemporaryDirectory(prefix="exec-bridge-bench-") as tmp:
        scratch = Path(tmp)
        echo, floors = compile_bench(scratch)
        print(f"# exec-bridge benchmark\n\n{platform.node()} · {platform.python_implementation()} "
              f"{platform.python_version()} · JSON: {codec.BACKEND} · pinned to CPU 0 (taskset-equivalent "
              f"sched_setaffinity, inherited by every child) · {time.strftime('%Y-%m-%d %H:%M')}\n")
        print("Events are API Gateway REST events whose body is a JSON string (with escaped quotes, as real "
              "JSON bodies have). F is the C floor doing the same work (F1 for oneshot, F2 for persistent), J "
              "the JSON encode+decode no Python bridge avoids. Every case runs in 5 blocks interleaved with "
              "the others. The Node trick runs on this event, then on one whose body has no backslashes.\n")
        if not args.skip_latency:
            latency_table(echo, floors, scratch, args.quick)
            print()
        print("\n".join(hello_vs_subprocess()))
        print()
        print("\n".join(stderr_throughput(scratch)))
        print()
        print("\n".join(batch_concurrency(scratch)))
        print()
        print("\n".join(cold_start(echo, scratch)))
        print()
        print("\n".join(peak_rss(echo, scratch)))


if __name__ == "__main__":
    main()
