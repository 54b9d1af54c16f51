"""The README's commands, run as written, so that it cannot drift from what works: every shell block
(first screen, Local use, the emulator, Deploy) and the inline `npx osls invoke local` of Deploy."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import ROOT, settings_environ

README = (ROOT / "README.md").read_text()
# Not run here: the test suite itself (this is it), and what needs an AWS account.
NOT_HERE = ("./build.sh test", "osls deploy", "sam deploy")


@pytest.fixture(scope="module", autouse=True)
def bin_as_it_was(project_binaries):
    """The commands run in order, as a reader would, one building on another (a bundle, then its use); what
    they added to bin/ is removed after them, so that no other test packs it."""
    before = set(project_binaries.iterdir())
    yield
    for added in set(project_binaries.iterdir()) - before:
        shutil.rmtree(added) if added.is_dir() else added.unlink()


def commands() -> list[tuple[str, str]]:
    """Each shell command, with the output its comment documents ('' when the comment is prose or there is
    none): a comment that starts with { or [ is what the command prints, ... standing for what is elided."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        for line in block.splitlines():
            command, _, comment = line.partition("   #")
            if command.strip():
                comment = comment.strip()
                found.append((command.strip(), comment if comment.startswith(("{", "[")) else ""))
    found += [(c, "") for c in re.findall(r"`(npx osls invoke local[^`]*)`", README.replace("\n", " "))]
    return found


def documented(expected: str) -> re.Pattern[str]:
    return re.compile(".*".join(map(re.escape, expected.split("..."))))


def test_the_readme_has_the_two_first_screen_commands():
    first = re.findall(r"```sh\n(.*?)```", README, re.S)[0].splitlines()
    assert first == ["./build.sh deps && ./build.sh && BRIDGE_BINARY=bin/hello python3 handler.py < events/hello.json",
                     "./build.sh test"]


def test_the_readme_documents_outputs():
    """The check below has something to check: the README shows what some commands print."""
    assert sum(bool(expected) for _, expected in commands()) >= 2


@pytest.mark.parametrize(("command", "expected"), commands(), ids=[c for c, _ in commands()])
def test_each_command_works_as_written(project_binaries, command, expected):
    if any(part in command for part in NOT_HERE):
        command = command.split(" && npx osls deploy")[0]  # the packaging half runs; the deploy needs AWS
        if any(part in command for part in NOT_HERE):
            pytest.skip("the suite itself, or it needs an AWS account")
    environ = settings_environ()
    done = subprocess.run(["bash", "-c", "set -euo pipefail; " + command], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    if expected:
        assert documented(expected).search(done.stdout), f"{command} printed {done.stdout[:500]!r}, not {expected}"


@pytest.mark.parametrize("args, shows", [(["--help"], "./build.sh package"), (["help", "bench"], "benchmarks"),
                                         (["help", "build"], "compile every")])
def test_build_sh_explains_itself(args, shows):
    done = subprocess.run([str(ROOT / "build.sh"), *args], capture_output=True, text=True)
    assert done.returncode == 0 and shows in done.stdout
    unknown = subprocess.run([str(ROOT / "build.sh"), "frobnicate"], capture_output=True, text=True)
    assert unknown.returncode != 0 and "--help" in unknown.stderr
