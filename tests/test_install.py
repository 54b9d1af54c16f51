"""Installed without cloning: `pip install '.[runtime-api]'` into a fresh venv gives the `bridge` package, the
`exec-bridge` command (run from another directory) and the Runtime API server's parser, and writes nothing
into src/."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    before = sorted(p.relative_to(ROOT) for p in (ROOT / "src").rglob("*"))
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                           f"{ROOT}[runtime-api]"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert sorted(p.relative_to(ROOT) for p in (ROOT / "src").rglob("*")) == before  # nothing written into src/
    return venv


def test_the_command_runs_a_binary_from_another_directory(installed, project_binaries, tmp_path):
    done = subprocess.run([str(installed / "bin" / "exec-bridge"), "--binary", str(project_binaries / "hello")],
                          input=b'{"installed": true}', capture_output=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["message"] == "Hello from C"


def test_the_command_has_the_clis_options_and_exit_codes(installed, tmp_path):
    usage = subprocess.run([str(installed / "bin" / "exec-bridge"), "--timeout", "nan"], input=b"{}",
                           capture_output=True, cwd=tmp_path, timeout=60)
    assert usage.returncode == 2 and b"usage: exec-bridge" in usage.stderr
    missing = subprocess.run([str(installed / "bin" / "exec-bridge"), "--binary", str(tmp_path / "nothing")],
                             input=b"{}", capture_output=True, cwd=tmp_path, timeout=60)
    assert missing.returncode == 1 and json.loads(missing.stderr)["errorType"] == "BinaryNotFound"


def test_emulate_drives_a_custom_runtime(installed, project_binaries, tmp_path):
    command = [str(installed / "bin" / "exec-bridge"), "emulate", "--", str(project_binaries / "runtime_go")]
    done = subprocess.run(command, input=b'{"k": 1}', capture_output=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["response"]["event"] == {"k": 1}
