"""Locating and checking the binary at init, and the /tmp copy for a lost exec bit."""

from __future__ import annotations

import os
import shutil

import pytest
from conftest import invoke

from bridge import binary, errors
from bridge.bridge import Bridge
from bridge.config import Config


def task_root_with(tmp_path, files: dict[str, bytes | os.PathLike], mode: int = 0o755):
    (tmp_path / "bin").mkdir(parents=True)
    for name, content in files.items():
        target = tmp_path / "bin" / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            shutil.copyfile(content, target)
        target.chmod(mode)
    return tmp_path


def test_missing_binary(tmp_path):
    with pytest.raises(errors.BinaryNotFound) as caught:
        Bridge(Config.from_environ(str(tmp_path), {"BRIDGE_BINARY": "bin/nope"}))
    assert "bin/nope" in str(caught.value)


def test_single_executable_in_bin_is_used(tmp_path, binaries, monkeypatch):
    root = task_root_with(tmp_path, {"only": binaries["misbehave"], "README.txt": b"notes"})
    (root / "bin" / "README.txt").chmod(0o644)
    monkeypatch.chdir(root)
    bridge = Bridge(Config.from_environ(str(root), {}))
    assert invoke(bridge, {"x": 1}) == {"x": 1}


def test_ambiguous_bin_lists_what_it_holds(tmp_path, binaries):
    root = task_root_with(tmp_path, {"one": binaries["misbehave"], "two": binaries["misbehave"]})
    with pytest.raises(errors.BinaryNotFound) as caught:
        Bridge(Config.from_environ(str(root), {}))
    assert "holds 2 executables" in str(caught.value) and "one, two" in str(caught.value)


def test_empty_bin(tmp_path):
    (tmp_path / "bin").mkdir()
    with pytest.raises(errors.BinaryNotFound) as caught:
        Bridge(Config.from_environ(str(tmp_path), {}))
    assert "holds 0 executables" in str(caught.value) and "nothing" in str(caught.value)


def test_not_an_elf(tmp_path):
    root = task_root_with(tmp_path, {"tool": b"MZ\x90\x00 a windows program"})
    with pytest.raises(errors.BinaryFormatError) as caught:
        Bridge(Config.from_environ(str(root), {"BRIDGE_BINARY": "bin/tool"}))
    assert "neither an ELF" in str(caught.value)


def _foreign_elf(host_code: int) -> bytes:
    foreign = 62 if host_code != 62 else 183  # x86_64 <-> aarch64
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    header[18:20] = foreign.to_bytes(2, "little")
    return bytes(header)


def test_wrong_architecture(tmp_path):
    host_code = {"x86_64": 62, "aarch64": 183}[binary.host_machine()]
    root = task_root_with(tmp_path, {"tool": _foreign_elf(host_code)})
    with pytest.raises(errors.BinaryFormatError) as caught:
        Bridge(Config.from_environ(str(root), {"BRIDGE_BINARY": "bin/tool"}))
    assert f"this machine is {binary.host_machine()}" in str(caught.value)


def test_lost_exec_bit_runs_a_copy_from_tmp(tmp_path, binaries, monkeypatch, capfd):
    root = task_root_with(tmp_path / "task", {"tool": binaries["misbehave"]}, mode=0o444)
    (root / "bin").chmod(0o555)  # read-only task root, as /var/task on Lambda
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr("tempfile.tempdir", None)
    try:
        bridge = Bridge(Config.from_environ(str(root), {"BRIDGE_BINARY": "bin/tool"}))
        assert invoke(bridge, {"copied": True}) == {"copied": True}
        assert bridge.program.path.startswith(str(scratch))
        assert os.stat(bridge.program.path).st_mode & 0o777 == 0o755
        assert os.stat(root / "bin" / "tool").st_mode & 0o777 == 0o444  # never chmod in place
        assert "is not executable" in capfd.readouterr().err
    finally:
        (root / "bin").chmod(0o755)


def test_script_binaries_are_accepted(tmp_path, monkeypatch):
    root = task_root_with(tmp_path, {"bootstrap": b"#!/bin/sh\ncat\n"})
    monkeypatch.chdir(root)
    bridge = Bridge(Config.from_environ(str(root), {}))
    assert invoke(bridge, ["via", "sh"]) == ["via", "sh"]


def test_exec_failure_becomes_typed(tmp_path):
    missing_loader = tmp_path / "prog"
    missing_loader.write_bytes(b"#!/nonexistent/interpreter\n")
    error = binary.spawn_error(str(missing_loader), FileNotFoundError(2, "No such file"))
    assert isinstance(error, errors.BinaryFormatError) and "interpreter" in str(error)


def test_a_binary_needing_a_newer_glibc_says_to_link_statically(tmp_path, monkeypatch):
    """What the dynamic loader prints on Lambda (glibc 2.34) for a binary built on a newer system."""
    loader = tmp_path / "app"
    loader.write_text("#!/bin/sh\necho \"/var/task/bin/app: /lib64/libc.so.6: version \\`GLIBC_2.38' not found "
                      "(required by /var/task/bin/app)\" >&2\nexit 1\n")
    loader.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    bridge = Bridge(Config.from_environ(str(tmp_path), {"BRIDGE_BINARY": str(loader)}))
    with pytest.raises(errors.BinaryFormatError) as caught:
        invoke(bridge, {})
    assert "link it statically" in str(caught.value) and "GLIBC_2.38" in str(caught.value)


@pytest.mark.parametrize("settings", [{}, {"BRIDGE_BINARY": "bin/missing"}])
def test_a_missing_binary_says_to_build_it(tmp_path, settings):
    with pytest.raises(errors.BinaryNotFound) as caught:
        Bridge(Config.from_environ(str(tmp_path), settings))
    assert "./build.sh" in str(caught.value)
