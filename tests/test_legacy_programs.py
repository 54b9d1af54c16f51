"""Programs nobody here wrote, really wrapped: Debian's jq, sqlite3, pandoc and ImageMagick, bundled with
./build.sh bundle, packaged with scripts/package.py, unzipped read-only, and then

- run as the bridge starts them, in a bwrap root that holds nothing of this machine's but, for a bundle
  on Lambda's glibc, glibc's own files (at /lib64, with Lambda's LD_LIBRARY_PATH), as uid 993;
- run through the real awslambdaric (the emulator) on the unzipped package, behind HTTP events.
"""

from __future__ import annotations

import base64
import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from conftest import ROOT, emulate, sample_event, settings_environ

from bridge import binary

IMAGEMAGICK = Path("/usr/lib/x86_64-linux-gnu/ImageMagick-6.9.11")
LAMBDA_LD_LIBRARY_PATH = ("/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:"
                          "/opt/lib")  # the python3.12 runtime's
GLIBC = ("ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
         "libresolv.so.2")
# An empty root, no network. --as-pid-1: otherwise bwrap's own init in the new PID namespace outlives it for a
# moment, and is orphaned to this process, a subreaper once any Bridge was made in it.
BWRAP = ["bwrap", "--tmpfs", "/", "--proc", "/proc", "--dev", "/dev", "--unshare-all", "--as-pid-1"]
# name: (./build.sh bundle arguments, the argv the test runs it with, stdin, what stdout starts with)
PROGRAMS = {
    "jq": (["/usr/bin/jq"], ["-c", ".a"], b'{"a":[1,"two"]}', b'[1,"two"]'),
    "sqlite3": (["/usr/bin/sqlite3"], ["-json", ":memory:"], b"select 6*7 as answer;", b'[{"answer":42}]'),
    "pandoc": (["/usr/bin/pandoc", "--with", "/usr/share/pandoc/data:data", "--env", "pandoc_datadir=."],
               ["-f", "markdown", "-t", "html"], b"# Hi *there*\n", b'<h1 id="hi-there">Hi <em>there</em></h1>'),
}


def png(width: int = 3, height: int = 2) -> bytes:
    """A small RGB PNG, made here."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + bytes([200, 30, 30] * width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def package(tmp_path_factory, project_binaries):
    """The four programs bundled into a bin/ of their own, packaged, unzipped read-only: the task root."""
    work = tmp_path_factory.mktemp("legacy")
    bin_dir = work / "bin"
    coders = work / "coders"  # of ImageMagick's 120 coders, the two this function needs: the user names them
    coders.mkdir()
    for name in ("png.so", "png.la", "jpeg.so", "jpeg.la"):
        shutil.copy(IMAGEMAGICK / "modules-Q16" / "coders" / name, coders / name)
    bundles = {name: spec[0] for name, spec in PROGRAMS.items()}
    bundles["convert"] = ["/usr/bin/convert-im6.q16", "convert", "--with", f"{coders}:coders",
                          "--with", "/etc/ImageMagick-6:config", "--env", "MAGICK_CODER_MODULE_PATH=coders",
                          "--env", "MAGICK_CONFIGURE_PATH=config"]
    said = {}
    for name, arguments in bundles.items():
        done = subprocess.run([str(ROOT / "build.sh"), "bundle", *arguments], env=settings_environ(BIN=str(bin_dir)),
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        said[name] = done.stdout
    zipped = work / "function.zip"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "package.py"), "--bin", str(bin_dir), "--out",
                           str(zipped)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    task = work / "task"
    subprocess.run(["unzip", "-q", str(zipped), "-d", str(task)], check=True)
    for path in [task, *task.rglob("*")]:  # readable by uid 993, writable by nobody: /var/task
        path.chmod((path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0)) & ~0o222)
    yield task, said, done.stdout
    for path in [task, *task.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)


def test_each_bundle_says_which_glibc_and_why(package):
    _, said, _ = package
    assert "glibc: Lambda's, 2.34, because everything needs at most GLIBC_2.34" in said["sqlite3"]
    assert "glibc: Lambda's, 2.34" in said["pandoc"]
    assert "glibc: its own, 2.36, because libjq.so.1 needs GLIBC_2.35" in said["jq"]
    assert "glibc: its own, 2.36, because" in said["convert"] and "needs GLIBC_2.36" in said["convert"]


def test_the_package_says_its_size_against_lambdas_limit(package):
    _, _, packaged = package
    assert "of Lambda's 250 MB" in packaged


def in_empty_root(task: Path, name: str, args: list[str], stdin: bytes) -> subprocess.CompletedProcess:
    """Run bin/NAME as the bridge would start it (its Program), in a root holding the package at /var/task,
    and only glibc's own files when its bundle runs on Lambda's glibc; as uid 993, with no network."""
    program = binary.program(str(task), f"bin/{name}", tuple(args), binary.base_environment({"PATH": "/usr/bin:/bin"}))
    outside, inside = str(task), "/var/task"
    argv = [part.replace(outside, inside) for part in program.argv]
    env = {key: value.replace(outside, inside) for key, value in program.environ.items()}
    root = [*BWRAP, "--ro-bind", outside, inside, "--tmpfs", "/tmp", "--uid", "993", "--gid", "990", "--chdir",
            inside, "--clearenv"]
    if not json.loads((task / "bin" / f"{name}.bundle" / "bundle.json").read_text())["loader"]:
        for library in GLIBC:  # Lambda's glibc, which the bundle relies on (this machine's stands in for it)
            source = f"/lib64/{library}" if library.startswith("ld-") else f"/lib/x86_64-linux-gnu/{library}"
            root += ["--ro-bind", source, f"/lib64/{library}"]
        env["LD_LIBRARY_PATH"] = LAMBDA_LD_LIBRARY_PATH
    for key, value in env.items():
        root += ["--setenv", key, value]
    return subprocess.run([*root, *argv], input=stdin, capture_output=True, timeout=60)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_each_bundle_runs_in_a_root_with_nothing_of_this_machine(package, name):
    task, _, _ = package
    _, args, stdin, expected = PROGRAMS[name]
    done = in_empty_root(task, name, args, stdin)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(expected)


def test_imagemagick_converts_in_a_root_with_nothing_of_this_machine(package):
    task, _, _ = package
    done = in_empty_root(task, "convert", ["png:-", "jpeg:-"], png())
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"\xff\xd8\xff")


def test_without_its_loader_a_bundle_of_its_own_glibc_cannot_start(package, tmp_path):
    """The control: the same jq, started directly (as a bundle on Lambda's glibc would be), finds no loader."""
    task, _, _ = package
    done = subprocess.run([*BWRAP, "--ro-bind", str(task), "/var/task", "/var/task/bin/jq", "."], input=b"1",
                          capture_output=True, timeout=60)
    assert done.returncode != 0 and b"No such file or directory" in done.stderr


def http_event(body: bytes, *, base64_body: bool = False) -> dict:
    event = sample_event("api_gateway_v2")
    event["body"] = base64.b64encode(body).decode() if base64_body else body.decode()
    event["isBase64Encoded"] = base64_body
    return event


def through_awslambdaric(task: Path, events: list, **settings: str) -> list[dict]:
    code, lines, stderr = emulate(events, "--task-root", str(task), **settings)
    assert code == 0, stderr
    return lines


def test_pandoc_turns_markdown_into_html(package):
    task, _, _ = package
    lines = through_awslambdaric(task, [http_event(b"# Title\n\nSome *text*.\n")], BRIDGE_BINARY="bin/pandoc",
                                 BRIDGE_STDIN="body", BRIDGE_ARGS="-f markdown -t html",
                                 BRIDGE_CONTENT_TYPE="text/html; charset=utf-8")
    response = lines[0]["response"]
    assert response["statusCode"] == 200 and response["headers"]["Content-Type"] == "text/html; charset=utf-8"
    assert response["body"].startswith('<h1 id="title">Title</h1>')


def test_convert_turns_a_png_body_into_a_jpeg(package, tmp_path):
    task, _, _ = package
    lines = through_awslambdaric(task, [http_event(png(), base64_body=True)], BRIDGE_BINARY="bin/convert",
                                 BRIDGE_STDIN="body", BRIDGE_ARGS="png:{input} jpeg:{output}", TMPDIR=str(tmp_path))
    response = lines[0]["response"]
    assert response["statusCode"] == 200 and response["isBase64Encoded"] is True
    assert response["headers"]["Content-Type"] == "image/jpeg"  # sniffed: convert cannot say it
    assert base64.b64decode(response["body"]).startswith(b"\xff\xd8\xff")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("exec-bridge-call-")]  # the call's files: gone


def test_jq_runs_with_bridge_args(package):
    task, _, _ = package
    lines = through_awslambdaric(task, [[{"n": 1}, {"n": 2}], []], BRIDGE_BINARY="bin/jq",
                                 BRIDGE_ARGS="-c '[.[] | .n * 2]'")
    assert [line["response"] for line in lines] == [[2, 4], []]


def test_sqlite3_answers_a_query_read_from_stdin(package):
    task, _, _ = package
    lines = through_awslambdaric(task, [http_event(b"select 6*7 as answer, 'it''s' as quoted;")],
                                 BRIDGE_BINARY="bin/sqlite3", BRIDGE_STDIN="body", BRIDGE_ARGS="-json :memory:")
    response = lines[0]["response"]
    assert response["statusCode"] == 200 and json.loads(response["body"]) == [{"answer": 42, "quoted": "it's"}]


def test_a_bundle_with_its_own_loader_is_still_named_for_itself(package):
    """Started through its loader, jq keeps its own name: argv[0] (--argv0), and runtime-api's _HANDLER."""
    task, _, _ = package
    program = binary.program(str(task), "bin/jq", ("-n", "$__prog_name"), {})
    assert program.path.endswith("jq.bundle/lib/ld-linux-x86-64.so.2")
    assert program.name == str(task / "bin" / "jq") and program.argv[1:6] == (
        "--library-path", str(task / "bin" / "jq.bundle" / "lib"), "--argv0", program.name, program.name)
