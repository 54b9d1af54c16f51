"""Mutation testing with mutmut (``./build.sh mutate [MODULE...]``): does a test fail when the code is broken?

    python scripts/mutate.py [MODULE...]     MODULE: codec, http, cgi, batch, runtime_server, ... (see TESTS)

Each module is mutated alone and checked against the tests that exercise it (``TESTS``), so a run takes
seconds to minutes, not the whole suite per mutant. It runs in a scratch copy of the tree (mutmut writes its
``mutants/`` beside the code), so the repository stays as it was. Without arguments: the modules of
``bridge/`` that the uncommitted change and the last commit touched. Prints, per module, how many mutants
were killed and each survivor with its diff: kill it with a test, or say in docs/testing.md why it is
equivalent (or out of reach: code run at import, before mutmut can switch the mutant in).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# module: (the files mutated, the tests that exercise them)
TESTS = {
    "codec": (["bridge/codec.py"], ["tests/test_codec.py", "tests/test_properties.py"]),
    "http": (["bridge/http/*"], ["tests/test_http.py", "tests/test_events.py", "tests/test_properties.py",
                                 "tests/test_files.py"]),
    "cgi": (["bridge/modes/cgi.py"], ["tests/test_http.py", "tests/test_cgi_security.py", "tests/test_properties.py"]),
    "batch": (["bridge/batch.py"], ["tests/test_batch.py"]),
    # Without the conformance suite's 1 KB and 3 MB runs through the proxy and the emulator (an hour of runs):
    # the server spoken to on the wire, and in process through the Go runtimes.
    "runtime_server": (["bridge/runtime_server.py", "bridge/loopback_server.py", "bridge/runtime_http.py"],
                       ["tests/test_runtime_api.py", "tests/test_runtime_conformance.py", "tests/test_documented.py",
                        "-k", "not through_the_proxy and not through_the_emulator"]),
    "workdir": (["bridge/workdir.py"], ["tests/test_files.py"]),
    "bundle": (["bridge/bundle.py"], ["tests/test_legacy_programs.py"]),
    "config": (["bridge/config.py"], ["tests/test_config.py", "tests/test_cgi_security.py", "tests/test_files.py"]),
    "log_records": (["bridge/log_records.py"], ["tests/test_logs.py"]),
}
COPIED = ["bridge", "tests", "bin", "events", "handler.py", "scripts", "src", "examples", "serverless.yml",
          "README.md", "docs", "build.sh", "pyproject.toml", "requirements.txt", "requirements-dev.txt"]


def changed_modules() -> list[str]:
    done = subprocess.run(["git", "diff", "--name-only", "HEAD~1"], cwd=ROOT, capture_output=True, text=True)
    names = set(done.stdout.split())
    return [module for module, (paths, _) in TESTS.items()
            if any(Path(name).match(path) for name in names for path in paths)]


def run(module: str, scratch: Path) -> tuple[int, list[str]]:
    """(killed, the survivors' descriptions) for one module."""
    paths, tests = TESTS[module]
    work = scratch / module
    work.mkdir()
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, work / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, work / name)
    also = [name for name in COPIED if name not in ("bridge", "pyproject.toml")]  # what the tests read
    config = (f"\n[tool.mutmut]\nsource_paths = [\"bridge\"]\nonly_mutate = {paths!r}\n"
              f"pytest_add_cli_args_test_selection = {tests!r}\nalso_copy = {also!r}\n").replace("'", '"')
    with open(work / "pyproject.toml", "a") as file:
        file.write(config)
    mutmut = [sys.executable, "-m", "mutmut"]
    ran = subprocess.run([*mutmut, "run"], cwd=work, capture_output=True, text=True, timeout=3600)
    results = subprocess.run([*mutmut, "results", "--all", "true"], cwd=work, capture_output=True, text=True).stdout
    status = dict(re.findall(r"^\s*(\S+): (\w[\w ]*)$", results, re.MULTILINE))
    if not any(state.strip() in ("killed", "survived") for state in status.values()):
        output = (ran.stdout + ran.stderr).replace("\r", "\n")
        raise SystemExit(f"mutate: mutmut found no mutants for {module}; its last words:\n{output[-3000:]}")
    survivors = []
    for name, state in sorted(status.items()):
        if state.strip() in ("survived", "no tests"):
            diff = subprocess.run([*mutmut, "show", name], cwd=work, capture_output=True, text=True).stdout
            changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
            survivors.append(f"{name} ({state.strip()}): " + " / ".join(line.strip() for line in changed))
    killed = sum(state.strip() == "killed" for state in status.values())
    return killed, survivors


def main(argv: list[str]) -> int:
    modules = argv or changed_modules()
    unknown = [m for m in modules if m not in TESTS]
    if unknown:
        print(f"mutate: no tests are mapped for {', '.join(unknown)} (scripts/mutate.py TESTS: {', '.join(TESTS)})",
              file=sys.stderr)
        return 2
    if not modules:
        print("mutate: the change touches none of the mapped modules; name some: " + ", ".join(TESTS))
        return 0
    with tempfile.TemporaryDirectory(prefix="exec-bridge-mutate-") as scratch:
        for module in modules:
            killed, survivors = run(module, Path(scratch))
            print(f"## {module}: {killed} killed, {len(survivors)} surviving")
            for line in survivors:
                print(f"- {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
