"""Lambda in a box: the emulator's runtime run in a container the way Lambda runs a function
(``python -m bridge.emulator --sandbox``, ``exec-bridge emulate --sandbox``). A developer tool, not deployed.

What it reproduces: a read-only root with ``/tmp`` the only writable place (a tmpfs of ``--tmp-mb``), a
non-root user (993:990), the memory size as a hard limit without swap (``--memory-mb``), the function's
environment, the Runtime API on loopback, and the freeze between invocations (the cgroup freezer, from each
response posted to the next event delivered), processes and all. What it does not: Lambda's own kernel and
Firecracker, its network, its CPU share, the runtime's telemetry channel (records come on stdout), the
image's own Python (the stand-in base has Debian's).

The function is a container image, or an unzipped package mounted read-only at ``/var/task`` on the Lambda
base that ``./build.sh image`` makes (AWS's, or a stand-in when no registry can be reached).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

LAMBDA_BASE = "localhost/lambda-python-standin:latest"  # ./build.sh image's stand-in for AWS's base
IMAGE = "localhost/exec-bridge:latest"
USER = "993:990"  # Lambda runs functions as a user of its own, sbx_user1051
# The function's variables that go into the box; the rest of the emulator's environment (PATH, HOME) is the
# host's, and the image has its own.
PASSED = re.compile(r"^(BRIDGE_\w+|AWS_\w+|_HANDLER|_X_AMZN_TRACE_ID|TZ|FUNCTION_\w+)$")


class SandboxUnavailable(Exception):
    """No podman here: what to install."""


def memory_size(project: str = ".") -> int:
    """The function's memory size: ``provider.memorySize`` of serverless.yml in ``project``, else 128."""
    try:
        with open(os.path.join(project, "serverless.yml")) as file:
            text = file.read()
    except OSError:
        return 128
    provider = re.search(r"^provider:\n((?:[ \t]+.*\n|\n)*)", text, re.MULTILINE)
    found = re.search(r"^\s+memorySize:\s*(\d+)", provider.group(1), re.MULTILINE) if provider else None
    return int(found.group(1)) if found else 128


class Box:
    """One container: the command that runs it (the emulator's runtime), its freezer, its peak memory."""

    def __init__(self, image: str, task_root: str | None, memory_mb: int, tmp_mb: int) -> None:
        if shutil.which("podman") is None:
            raise SandboxUnavailable("the sandbox runs the function in a container with podman, which is not "
                                     "installed: apt-get install podman runc catatonit (./build.sh image installs "
                                     "them, and builds the Lambda base it needs)")
        self.image = image
        self.task_root = task_root
        self.memory_mb = memory_mb
        self.tmp_mb = tmp_mb
        self.name = f"exec-bridge-box-{os.urandom(4).hex()}"
        self.paused = False
        self._conf = tempfile.NamedTemporaryFile("w", prefix="exec-bridge-containers-", suffix=".conf", delete=False)
        self._conf.write("[containers]\ndefault_ulimits = []\n")  # these machines lack CAP_SYS_RESOURCE
        self._conf.close()

    def environ(self, environ: dict[str, str]) -> dict[str, str]:
        """podman's own environment: the emulator's, with its containers.conf."""
        return {**environ, "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF") or self._conf.name}

    def command(self, environ: dict[str, str], handler: str) -> list[str]:
        """``podman run`` for this box; ``environ`` is the runtime's environment, of which the function's
        variables go in (their values taken from podman's own environment, never written on its command line)."""
        argv = ["podman", "--runtime", "runc", "run", "--name", self.name, "--init", "--read-only",
                "--tmpfs", f"/tmp:rw,size={self.tmp_mb}m,mode=1777", "--user", USER,
                "--memory", f"{self.memory_mb}m", "--memory-swap", f"{self.memory_mb}m", "--network", "host"]
        for name in sorted({*filter(PASSED.match, environ), "AWS_LAMBDA_RUNTIME_API"}):
            argv += ["--env", name]
        if self.task_root is not None:
            argv += ["--volume", f"{self.task_root}:/var/task:ro"]
        return [*argv, self.image, handler]

    def _podman(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["podman", "--runtime", "runc", *args], capture_output=True, text=True,
                              env=self.environ(dict(os.environ)), timeout=60)

    def freeze(self) -> None:
        """As Lambda freezes the environment once a response is posted: every process in it."""
        if not self.paused and self._podman("pause", self.name).returncode == 0:
            self.paused = True

    def thaw(self) -> None:
        if self.paused:
            self._podman("unpause", self.name)
            self.paused = False

    def peak_memory(self) -> int | None:
        """The most memory the whole box has used, in bytes (its cgroup's), while it runs."""
        done = self._podman("inspect", "--format", "{{.State.CgroupPath}}", self.name)
        path = done.stdout.strip().lstrip("/")
        for candidate in (f"/sys/fs/cgroup/memory/{path}/memory.max_usage_in_bytes",  # cgroup v1
                          f"/sys/fs/cgroup/{path}/memory.peak"):  # v2
            try:
                with open(candidate) as file:
                    return int(file.read())
            except (OSError, ValueError):
                continue
        return None

    def remove(self) -> None:
        """Gone, whatever state it is in, with everything that ran in it."""
        self.thaw()
        self._podman("rm", "--force", "--time", "0", self.name)
        os.unlink(self._conf.name)
