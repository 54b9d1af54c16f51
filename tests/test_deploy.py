"""The deployable package, proven with the real tools: osls (the open-source Serverless Framework),
awslambdaric through the emulator on the unpacked artifact, serverless-offline, and arm64 under qemu."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, as_lambda_user, sample_event, settings_environ

NODE_BIN = ROOT / "node_modules" / ".bin"
ARTIFACT = ROOT / "dist" / "exec-bridge.zip"

SQS_RECORD = sample_event("sqs")["Records"][0]
# function name -> (event, check of the response)
EXPECTED = {
    "hello": ({"a": 1}, lambda r: r["message"] == "Hello from C" and r["eventBytes"] == 7),
    "echo_body": ({"body": {"x": [1, "it's"]}}, lambda r: r == {"x": [1, "it's"]}),
    "runtime_hello": ({"k": 1}, lambda r: r == {"message": "Hello from Crystal", "event": {"k": 1}}),
    "runtime_go": ({"k": 2}, lambda r: r["event"] == {"k": 2} and r["handler"] == "main.handle"),
    "runtime_shell": ({"k": 3}, lambda r: r == {"handler": "runtime_shell", "echo": {"k": 3}}),
    "rust_hello": ({"a": 1}, lambda r: r["message"] == "Hello from Rust" and r["eventBytes"] == 7),
    "nim_hello": ({"a": 1}, lambda r: r["message"] == "Hello from Nim" and r["eventBytes"] == 7),
    "sqs_worker": ({"Records": [dict(SQS_RECORD, messageId="m1", body="an order"),
                                dict(SQS_RECORD, messageId="m2", body="a poison order")]},
                   lambda r: r == {"batchItemFailures": [{"itemIdentifier": "m2"}]}),
}


def tool_env(**extra: str) -> dict[str, str]:
    """Node tools run `python3` from $VIRTUAL_ENV/bin: the project's venv, with its packages."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("BRIDGE_")}
    env.update(extra, VIRTUAL_ENV=str(Path(sys.executable).parent.parent))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


@pytest.fixture(scope="session")
def packaged(project_binaries) -> dict:
    """./build.sh package, then `osls package`: the framework's state and the generated template."""
    if not (NODE_BIN / "osls").exists():
        pytest.fail("osls is not installed: run ./build.sh deps (npm install)")
    subprocess.run([str(ROOT / "build.sh"), "package"], check=True, capture_output=True)
    done = subprocess.run([str(NODE_BIN / "osls"), "package"], cwd=ROOT, capture_output=True, text=True,
                          env=tool_env(), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    state = json.loads((ROOT / ".serverless" / "serverless-state.json").read_text())
    template = json.loads((ROOT / ".serverless" / "cloudformation-template-update-stack.json").read_text())
    return {"output": done.stdout + done.stderr, "state": state, "template": template}


def lambda_functions(template: dict) -> dict[str, dict]:
    found = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            props = resource["Properties"]
            found[props["FunctionName"].split("-")[-1]] = props
    return found


def test_osls_package_is_clean(packaged):
    output = packaged["output"].lower()
    assert "service packaged" in output
    assert "warning" not in output and "deprecat" not in output, packaged["output"]


def test_template_has_every_function_configured(packaged):
    functions = lambda_functions(packaged["template"])
    assert set(functions) == set(EXPECTED)
    for name, props in functions.items():
        assert props["Handler"] == "handler.handler" and props["Runtime"] == "python3.12"
        assert props["Architectures"] == ["x86_64"]
        assert props["Environment"]["Variables"]["BRIDGE_BINARY"] == f"bin/{name}"
        assert props["MemorySize"] >= 256 and props["Timeout"] >= 10


def test_the_queue_worker_reports_batch_item_failures(packaged):
    mappings = [r["Properties"] for r in packaged["template"]["Resources"].values()
                if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert [m["FunctionResponseTypes"] for m in mappings] == [["ReportBatchItemFailures"]]


def test_artifact_holds_exactly_what_lambda_needs(packaged):
    state = packaged["state"]
    assert state["package"]["artifact"] == ARTIFACT.name  # what the framework uploads...
    configured = state["service"]["initialServerlessConfig"]["package"]["artifact"]
    assert (ROOT / configured).resolve() == ARTIFACT.resolve()  # ...is the zip build.sh wrote
    for props in lambda_functions(packaged["template"]).values():
        assert props["Code"]["S3Key"].endswith(f"/{ARTIFACT.name}")
    with zipfile.ZipFile(ARTIFACT) as zf:
        names = zf.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in zf.infolist()}
    assert names == sorted(names)
    tops = {name.split("/")[0] for name in names}
    assert tops == {"handler.py", "__pycache__", "bridge", "bin", "orjson", "orjson-3.11.5.dist-info",
                    "httptools", "httptools-0.9.0.dist-info"}  # serverless.yml has custom runtimes: the proxy's parser
    sources = [n for n in names if n.endswith(".py")]
    compiled = sorted(n for n in names if n.endswith(".pyc"))
    assert compiled == sorted(n.replace("handler.py", "__pycache__/handler.cpython-312.pyc") if "/" not in n else
                              n.rsplit("/", 1)[0] + "/__pycache__/" + n.rsplit("/", 1)[1][:-3] + ".cpython-312.pyc"
                              for n in sources)  # the target runtime's bytecode, for every source and only them
    with zipfile.ZipFile(ARTIFACT) as zf:  # hash-based and unchecked: valid whatever the zip's timestamps
        assert {int.from_bytes(zf.read(n)[4:8], "little") for n in compiled} == {0b01}
    assert sorted(n for n in names if n.startswith("bin/")) == sorted(f"bin/{f}" for f in EXPECTED)
    for name in names:
        if name.startswith("bin/"):
            assert stat.S_IMODE(modes[name]) == 0o755, name
    assert any(n.startswith("orjson/orjson.cpython-312-x86_64") for n in names)


@pytest.mark.parametrize(("function", "layer", "shipped"), [
    ("    environment:\n      BRIDGE_BINARY: bin/hello\n", False, ["orjson"]),
    ("    environment:\n      BRIDGE_MODE: runtime-api\n", False, ["orjson", "httptools"]),
    ("    environment:\n      BRIDGE_MODE: 'runtime-api'\n", False, ["orjson", "httptools"]),
    ("    environment:\n      BRIDGE_BINARY: bin/hello\n", True, ["orjson", "httptools"]),  # a layer serves any
])
def test_httptools_ships_only_where_a_custom_runtime_needs_it(tmp_path, function, layer, shipped):
    sys.path.insert(0, str(ROOT / "scripts"))
    import package

    serverless_yml = tmp_path / "serverless.yml"
    serverless_yml.write_text(f"provider:\n  runtime: python3.12\nfunctions:\n  f:\n{function}")
    assert [pin.split("==")[0] for pin in package.requirements(serverless_yml, layer)] == shipped


def test_package_is_reproducible(packaged):
    first = ARTIFACT.read_bytes()
    original = (ROOT / "handler.py").stat()
    os.utime(ROOT / "handler.py")  # a new mtime must not change the bytes
    try:
        subprocess.run([str(ROOT / "build.sh"), "package"], check=True, capture_output=True)
    finally:  # the repository as it was
        os.utime(ROOT / "handler.py", ns=(original.st_atime_ns, original.st_mtime_ns))
    assert ARTIFACT.read_bytes() == first


def unpack(zip_path: Path, into: Path) -> Path:
    """As Lambda does: `unzip` (which keeps modes) into a directory that is then read-only."""
    into.mkdir()
    subprocess.run(["unzip", "-q", str(zip_path), "-d", str(into)], check=True)
    for path in [into, *into.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    return into


def run_function(task: Path, props: dict, event: object, scratch: Path) -> tuple[dict, str]:
    """The function as Lambda runs it: awslambdaric with its Handler and Environment, via the emulator, as a
    non-root user, for whom the read-only task root is read-only; ``scratch`` is its /tmp."""
    scratch.chmod(0o777)
    env = tool_env(HOME=str(scratch), TMPDIR=str(scratch), **props["Environment"]["Variables"])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    done = subprocess.run([*as_lambda_user(), "-m", "bridge.emulator", "--task-root", str(task),
                           "--handler", props["Handler"]],
                          input=json.dumps(event).encode(), cwd=ROOT, env=env, capture_output=True, timeout=120)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines, done.stderr.decode()
    return lines[0], done.stderr.decode()


def make_writable(path: Path) -> None:
    for item in [path, *path.rglob("*")]:
        item.chmod(item.stat().st_mode | 0o200)


def test_every_function_runs_from_the_read_only_artifact(packaged, shared_tmp):
    tmp_path = shared_tmp
    task = unpack(ARTIFACT, tmp_path / "task")
    try:
        for name, props in lambda_functions(packaged["template"]).items():
            event, check = EXPECTED[name]
            scratch = tmp_path / f"tmp-{name}"
            scratch.mkdir()
            line, log = run_function(task, props, event, scratch)
            assert "response" in line, (name, line, log)
            assert check(line["response"]), (name, line["response"])
    finally:
        make_writable(task)


def test_lost_exec_bits_fall_back_to_a_tmp_copy(packaged, shared_tmp):
    tmp_path = shared_tmp
    stripped = tmp_path / "stripped.zip"
    with zipfile.ZipFile(ARTIFACT) as source, zipfile.ZipFile(stripped, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            info.external_attr = (0o100644 << 16) if info.filename.startswith("bin/") else info.external_attr
            target.writestr(info, source.read(info))
    task = unpack(stripped, tmp_path / "task")
    try:
        assert not os.access(task / "bin" / "hello", os.X_OK)
        props = lambda_functions(packaged["template"])["hello"]
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        line, log = run_function(task, props, {"a": 1}, scratch)
        assert EXPECTED["hello"][1](line["response"])
        assert "is not executable" in log and "running a copy" in log
    finally:
        make_writable(task)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    limit = time.monotonic() + seconds
    while time.monotonic() < limit:
        if process.poll() is not None:
            raise AssertionError(f"serverless-offline exited: {process.stdout.read().decode()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError("serverless-offline did not start listening")


def test_serverless_offline_serves_the_functions(packaged, tmp_path):
    http_port, lambda_port = free_port(), free_port()
    offline = subprocess.Popen(
        [str(NODE_BIN / "osls"), "offline", "start", "--host", "127.0.0.1", "--httpPort", str(http_port),
         "--lambdaPort", str(lambda_port), "--noPrependStageInUrl"],
        cwd=ROOT, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        wait_for_port(http_port, offline)
        request = urllib.request.Request(f"http://127.0.0.1:{http_port}/test", method="POST",
                                         data=json.dumps({"greeting": "it's \"offline\""}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            assert json.loads(response.read()) == {"greeting": "it's \"offline\""}
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/hello", timeout=60) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("application/json")
            assert json.loads(response.read())["message"] == "Hello from C"
    finally:
        os.killpg(offline.pid, 15)
        offline.wait(timeout=30)
        shutil.rmtree(ROOT / ".serverless-offline", ignore_errors=True)  # where it unpacked the artifact


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_osls_invoke_local(packaged, name):
    event, check = EXPECTED[name]
    done = subprocess.run([str(NODE_BIN / "osls"), "invoke", "local", "-f", name, "--data", json.dumps(event)],
                          cwd=ROOT, env=tool_env(), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    # The response starts a line (log records start with their level), then what was logged as it stopped.
    start = done.stdout.index("{") if done.stdout.startswith("{") else done.stdout.index("\n{") + 1
    assert check(json.JSONDecoder().raw_decode(done.stdout[start:])[0]), done.stdout


# arm64: cross-built C and Go, run through the bridge under qemu-user-static.


@pytest.fixture(scope="session")
def arm64_binaries(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bin-aarch64")
    env = settings_environ(ARCH="aarch64", BIN=str(out), FUNCTIONS="hello runtime_go nim_hello")
    subprocess.run([str(ROOT / "build.sh")], env=env, check=True, capture_output=True)
    return out


@pytest.mark.parametrize("name, mode", [("hello", "oneshot"), ("runtime_go", "runtime-api"), ("nim_hello", "oneshot")])
def test_arm64_builds_run_under_qemu(arm64_binaries, make_bridge, name, mode):
    qemu = shutil.which("qemu-aarch64-static") or pytest.fail("qemu-user-static is not installed")
    binary = arm64_binaries / name
    header = binary.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183  # EM_AARCH64
    from conftest import invoke

    bridge = make_bridge(str(binary), binary=qemu, mode=mode)
    result = invoke(bridge, {"arch": "arm64"})
    if name in ("hello", "nim_hello"):
        assert result["message"] == {"hello": "Hello from C", "nim_hello": "Hello from Nim"}[name]
    else:
        assert result["event"] == {"arch": "arm64"}


@pytest.mark.parametrize("name, refusal", [("echo_body", "Crystal cannot cross-compile"),
                                           ("rust_hello", "Rust cannot build")])
def test_crystal_and_rust_on_arm64_are_refused_clearly(tmp_path, name, refusal):
    env = settings_environ(ARCH="aarch64", BIN=str(tmp_path), FUNCTIONS=name)
    done = subprocess.run([str(ROOT / "build.sh")], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert refusal in done.stderr


NEWER_GLIBC = "#include <stdlib.h>\nint main(void) { return (int)(arc4random() & 0); }\n"  # GLIBC_2.36


def dynamic_binary(tmp_path, source: str = NEWER_GLIBC):
    (tmp_path / "dynamic.c").write_text(source)
    out = tmp_path / "dynamic"
    subprocess.run(["gcc", "-o", str(out), str(tmp_path / "dynamic.c")], check=True)
    return out


def test_prebuilt_binaries_are_copied_checked_and_bundled(tmp_path, project_binaries):
    prebuilt, out = tmp_path / "prebuilt", tmp_path / "bin"
    prebuilt.mkdir()
    shutil.copy(project_binaries / "hello", prebuilt / "legacy")
    (prebuilt / "tool.sh").write_text("#!/bin/sh\ncat\n")
    env = settings_environ(PREBUILT=str(prebuilt), BIN=str(out), FUNCTIONS="none")
    done = subprocess.run([str(ROOT / "build.sh")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (out / "legacy").read_bytes() == (project_binaries / "hello").read_bytes()
    assert stat.S_IMODE((out / "tool.sh").stat().st_mode) == 0o755
    shutil.copy(dynamic_binary(tmp_path), prebuilt / "legacy")  # one that needs a newer glibc than Lambda's
    done = subprocess.run([str(ROOT / "build.sh")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "legacy.bundle" / "bundle.json").read_text())
    assert manifest["loader"] == "lib/ld-linux-x86-64.so.2" and "needs GLIBC_2.36" in manifest["why"]
    assert "glibc: its own" in done.stdout and "needs GLIBC_2.36" in done.stdout  # it says which path and why


def test_package_refuses_any_binary_in_bin_that_fails_the_checks(tmp_path, project_binaries):
    out = tmp_path / "bin"
    out.mkdir()
    shutil.copy(dynamic_binary(tmp_path), out / "dropped_in")
    env = settings_environ(BIN=str(out), FUNCTIONS="hello", PREBUILT=str(tmp_path / "none"))
    done = subprocess.run([str(ROOT / "build.sh"), "package"], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "dropped_in needs GLIBC_2.36" in done.stderr and "cannot go into the package" in done.stderr


@pytest.mark.parametrize(("source", "flags", "refusal"), [
    ("int main(void) { return 0; }\n", [], None),  # libc only, nothing past GLIBC_2.34: Lambda runs it as it is
    (NEWER_GLIBC, [], "needs GLIBC_2.36 but Lambda's glibc (Amazon Linux 2023) is 2.34"),
    ("#include <zlib.h>\nint main(void) { return zlibVersion()[0] == 0; }\n", ["-lz"],
     "needs libz.so.1, which the package (Lambda's runtime provides only glibc) does not hold: bundle it"),
])
def test_binary_checks_before_packing(tmp_path, project_binaries, source, flags, refusal):
    (tmp_path / "dynamic.c").write_text(source)
    subprocess.run(["gcc", "-o", str(tmp_path / "dynamic"), str(tmp_path / "dynamic.c"), *flags], check=True)
    done = subprocess.run([str(ROOT / "build.sh"), "check", str(tmp_path / "dynamic")], capture_output=True, text=True)
    if refusal is None:
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode != 0 and refusal in done.stderr


def test_a_binary_for_another_architecture_is_refused(project_binaries):
    wrong = subprocess.run([str(ROOT / "build.sh"), "check", str(project_binaries / "hello")], capture_output=True,
                           text=True, env=settings_environ(ARCH="aarch64"))
    assert wrong.returncode != 0 and "not aarch64" in wrong.stderr


def test_a_bin_only_function_runs_with_the_layer(tmp_path, project_binaries):
    """The layer (python/handler.py, python/bridge/, orjson) and a function zip holding only bin/hello, both
    unzipped read-only, under awslambdaric: bin/ resolves against the function's task root, not the layer."""
    subprocess.run([str(ROOT / "build.sh"), "layer"], check=True, capture_output=True)
    layer_zip = ROOT / "dist" / "exec-bridge-layer.zip"
    with zipfile.ZipFile(layer_zip) as zf:
        assert {name.split("/")[0] for name in zf.namelist()} == {"python"}
        assert not [n for n in zf.namelist() if "/bin/" in n]
    function_zip = tmp_path / "function.zip"
    with zipfile.ZipFile(function_zip, "w") as zf:
        info = zipfile.ZipInfo("bin/hello")
        info.external_attr = (0o100755) << 16
        zf.writestr(info, (project_binaries / "hello").read_bytes())
    layer, task = unpack(layer_zip, tmp_path / "opt"), unpack(function_zip, tmp_path / "task")
    env = tool_env(HOME=str(tmp_path), TMPDIR=str(tmp_path), BRIDGE_BINARY="bin/hello", PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, "-m", "bridge.emulator", "--task-root", str(task), "--layer", str(layer)],
                          input=b'{"layer": true}', cwd=ROOT, env=env, capture_output=True, timeout=120)
    line = json.loads(done.stdout)
    assert line["response"]["message"] == "Hello from C", done.stderr.decode()
    make_writable(layer)
    make_writable(task)


def test_the_sam_template_is_clean_and_matches_serverless_yml():
    """template.yaml (AWS SAM) deploys the same functions, with the same settings, as serverless.yml."""
    import yaml

    lint = Path(sys.executable).parent / "cfn-lint"
    done = subprocess.run([str(lint), str(ROOT / "template.yaml")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    sam = yaml.safe_load((ROOT / "template.yaml").read_text())
    osls = yaml.safe_load((ROOT / "serverless.yml").read_text())
    sam_functions = {props["Properties"]["Environment"]["Variables"]["BRIDGE_BINARY"]: props["Properties"]
                     for props in sam["Resources"].values() if props["Type"] == "AWS::Serverless::Function"}
    shared = {k: str(v) for k, v in osls["provider"]["environment"].items()}
    for name, function in osls["functions"].items():
        sam_function = sam_functions.pop(f"bin/{name}")
        assert sam_function["Environment"]["Variables"] == shared | function["environment"], name
    assert sam_functions == {}  # nothing more
    assert sam["Globals"]["Function"]["Runtime"] == osls["provider"]["runtime"]
    assert sam["Globals"]["Function"]["CodeUri"] == osls["package"]["artifact"]


def test_osls_never_ships_a_stale_zip(packaged):
    """A source newer than dist/exec-bridge.zip: osls package stops and says what to run; after it, it packs."""
    source = ROOT / "bridge" / "__init__.py"
    original = source.stat()
    later = ARTIFACT.stat().st_mtime + 5
    os.utime(source, (later, later))
    try:
        stale = subprocess.run([str(NODE_BIN / "osls"), "package"], cwd=ROOT, capture_output=True, text=True,
                               env=tool_env(), timeout=300)
        assert stale.returncode != 0
        assert "is older than bridge/__init__.py: run ./build.sh package" in stale.stdout + stale.stderr
    finally:  # the repository as it was, and a zip newer than it again
        os.utime(source, ns=(original.st_atime_ns, original.st_mtime_ns))
        subprocess.run([str(ROOT / "build.sh"), "package"], check=True, capture_output=True)
    fresh = subprocess.run([str(NODE_BIN / "osls"), "package"], cwd=ROOT, capture_output=True, text=True,
                           env=tool_env(), timeout=300)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr


def test_a_package_over_lambdas_250_mb_is_refused_naming_what_takes_the_room(monkeypatch):
    sys.path.insert(0, str(ROOT / "scripts"))
    import package

    items = [("bin/pandoc", b"x" * 900, 0o755), ("bin/pandoc.bundle/lib/libgmp.so.10", b"x" * 200, 0o644),
             ("handler.py", b"x" * 10, 0o644)]
    assert package.check_size(items) == 1110
    monkeypatch.setattr(package, "UNZIPPED_LIMIT", 1000)
    with pytest.raises(SystemExit, match=r"1,110 bytes, over Lambda's 250 MB .*the largest: bin/pandoc 900, "
                                         r"bin/pandoc.bundle 200"):
        package.check_size(items)
