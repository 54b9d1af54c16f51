"""Shared fixtures: real binaries compiled from tests/binaries/, and bridges built on them."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.bridge import Bridge  # noqa: E402
from bridge.config import Config  # noqa: E402
from bridge.context import LocalContext  # noqa: E402

SOURCES = Path(__file__).resolve().parent / "binaries"
BUILT = Path(__file__).resolve().parent / ".bin"


def compile_c(source: Path, output: Path) -> Path:
    """A static binary from one C file, rebuilt only when the source changed."""
    if output.exists() and output.stat().st_mtime >= source.stat().st_mtime:
        return output
    output.parent.mkdir(parents=True, exist_ok=True)
    compiler = ["musl-gcc", "-static"] if shutil.which("musl-gcc") else ["gcc", "-static"]
    subprocess.run([*compiler, "-O2", "-o", str(output), str(source)], check=True)
    return output


def compile_crystal(source: Path, output: Path) -> Path:
    """A static Crystal binary (slow: ~20 s), rebuilt only when the source changed."""
    if output.exists() and output.stat().st_mtime >= source.stat().st_mtime:
        return output
    output.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["crystal", "build", "--static", "--release", "--no-debug", "-o", str(output), str(source)],
        check=True, stderr=subprocess.DEVNULL,
    )
    return output


def compile_go(source: Path, output: Path) -> Path:
    """A static Go binary from a module directory, rebuilt only when a source changed."""
    newest = max(path.stat().st_mtime for path in source.iterdir())
    if output.exists() and output.stat().st_mtime >= newest:
        return output
    environ = dict(os.environ, CGO_ENABLED="0", GOCACHE=os.environ.get("GOCACHE", "/tmp/exec-bridge-gocache"))
    subprocess.run(["go", "build", "-o", str(output), "."], cwd=source, env=environ, check=True)
    return output


@pytest.fixture(scope="session")
def go_runtimes() -> dict[str, Path]:
    """Every tests/runtimes/<name>/ Go module, compiled once per session."""
    sources = Path(__file__).resolve().parent / "runtimes"
    return {src.name: compile_go(src, BUILT / src.name) for src in sorted(sources.iterdir()) if src.is_dir()}


@pytest.fixture(autouse=True)
def codec_as_at_a_cold_start():
    """Every test starts, as every cold start does, with the standard library doing the JSON until a megabyte
    went through (bridge.codec's crossover); a test that loads orjson loads it for itself only."""
    from bridge import codec

    saved = codec._impl, codec._stdlib_bytes
    codec._impl, codec._stdlib_bytes = None, 0
    yield
    codec._impl, codec._stdlib_bytes = saved


@pytest.fixture(scope="session")
def binaries() -> dict[str, Path]:
    """Every tests/binaries/*.c, compiled once per session."""
    return {src.stem: compile_c(src, BUILT / src.stem) for src in sorted(SOURCES.glob("*.c"))}


@pytest.fixture(scope="session")
def project_binaries() -> Path:
    """The project's own bin/, built by build.sh (which ./build.sh test runs first)."""
    subprocess.run([str(ROOT / "build.sh")], check=True, stdout=subprocess.DEVNULL)
    return ROOT / "bin"


@pytest.fixture
def make_bridge(binaries, monkeypatch):
    """A factory: a Bridge over tests/.bin/misbehave (or another binary) with BRIDGE_* settings."""
    monkeypatch.chdir(ROOT)
    made: list[Bridge] = []

    def make(args: str = "echo", binary: str | os.PathLike | None = None, **settings: str) -> Bridge:
        env = {"BRIDGE_BINARY": str(binary or binaries["misbehave"]), "BRIDGE_ARGS": args}
        env.update({f"BRIDGE_{k.upper()}": v for k, v in settings.items()})
        bridge = Bridge(Config.from_environ(str(ROOT), env))
        made.append(bridge)
        return bridge

    yield make
    for bridge in made:
        bridge.close()


@pytest.fixture
def server():
    """A server spoken to from this thread: its loop runs on its own (``serve``) in another."""
    from bridge.runtime_server import RuntimeServer

    server = RuntimeServer()
    stop = threading.Event()
    loop = threading.Thread(target=server.serve, args=(stop.is_set, 60.0))
    loop.start()
    yield server
    stop.set()
    loop.join()
    server.close()


def wait_done(pending, seconds=5.0):
    """The answer is published as the runtime gets its 202, on the server loop's thread."""
    limit = time.monotonic() + seconds
    while not pending.done() and time.monotonic() < limit:
        time.sleep(0.001)


def api_request(server, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """One request to a Runtime API server on its own connection, as http.client sends it: (response, body)."""
    host, port = server.address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data


def invoke(bridge: Bridge, event: object, timeout: float = 30.0) -> object:
    return bridge.invoke(event, LocalContext(timeout))


def processes_with(marker: str) -> list[int]:
    """Pids of live (not zombie) processes whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            found.append(int(entry))
    return found


def sample_event(name: str) -> dict:
    """A fresh copy of events/NAME.json, the sample events the README shows."""
    return json.loads((ROOT / "events" / f"{name}.json").read_text())


def settings_environ(**variables: str) -> dict[str, str]:
    """This process's environment for a bridge in a subprocess: none of the BRIDGE_* settings (nor Lambda's
    log format and level) the tests run under, plus ``variables``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "AWS_LAMBDA_LOG_"))}
    environ.update(variables)
    return environ


LAMBDA_USER = ["setpriv", "--reuid", "993", "--regid", "990", "--clear-groups"]  # a user of no privilege, as Lambda's


def as_lambda_user() -> list[str]:
    """A command prefix that runs Python as a non-root user (Lambda runs functions as one): where the suite runs
    as root, which writes through read-only modes, a test of a read-only task root means nothing without it.
    The suite's own interpreter may live where that user cannot go (pyenv's under /root): then the system's
    Python of the same version runs, with the suite's packages on its path."""
    if os.getuid() != 0:
        return [sys.executable]
    import sysconfig

    system = f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"
    packages = os.pathsep.join([sysconfig.get_paths()["purelib"], str(ROOT)])
    prefix = [*LAMBDA_USER, "env", f"PYTHONPATH={packages}", system]
    reachable = subprocess.run([*prefix, "-c", "import bridge.emulator, awslambdaric"], capture_output=True)
    if reachable.returncode != 0:  # this checkout sits where that user cannot read: run as ourselves, and say so
        print(f"as_lambda_user: uid 993 cannot read {ROOT} or its packages; running as root instead",
              file=sys.stderr)
        return [sys.executable]
    return prefix


@pytest.fixture
def shared_tmp():
    """A directory that the non-root user of ``as_lambda_user`` can reach (pytest's tmp_path is root's own)."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="exec-bridge-shared-"))
    path.chmod(0o755)
    yield path
    for item in [path, *path.rglob("*")]:
        if item.is_dir():
            item.chmod(0o755)
    shutil.rmtree(path)


def emulate(events: list, *args: str, **env: str) -> tuple[int, list[dict], str]:
    """``python -m bridge.emulator ARGS`` on ``events`` (one JSON line each), in this process's environment
    without the suite's BRIDGE_* settings, plus ``env``: (exit status, its result lines, its stderr)."""
    done = subprocess.run([sys.executable, "-m", "bridge.emulator", *args], cwd=ROOT, timeout=120,
                          input=b"\n".join(json.dumps(event).encode() for event in events),
                          capture_output=True, env=settings_environ(**env))
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()], done.stderr.decode()


def run_cli(stdin: bytes, *options: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    """``python handler.py OPTIONS`` (the local CLI) in a fresh interpreter, run from ``cwd``, in this process's
    environment without the suite's BRIDGE_* settings, plus ``env``."""
    return subprocess.run([sys.executable, str(ROOT / "handler.py"), *options], input=stdin, capture_output=True,
                          cwd=cwd, env=settings_environ(**env), timeout=60)


def like_a_supervisor() -> None:
    """A ``preexec_fn``: start as nohup, a CI runner or a process supervisor may start the bridge, with
    SIGHUP, SIGINT and SIGTERM ignored and SIGUSR1 blocked, all of which a process inherits through exec."""
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
