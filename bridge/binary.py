"""Finding the bundled binary and making sure it can run here, once per cold start.

Checks happen at init so that a broken package fails the deployment's first call with a clear,
typed error instead of a cryptic exec failure: missing file, not an ELF for this machine, or an exec
bit lost on the way (zipped on Windows, extracted by Python's ``zipfile``). In that last case the
binary is copied to /tmp with mode 0755 and run from there: /var/task is read-only on Lambda.
"""

from __future__ import annotations

import _signal  # signal's own functions and constants, without signal.py's enum classes
import errno
import os

from .errors import BinaryFormatError, BinaryNotExecutable, BinaryNotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .process import Child

# A binary starts as Lambda starts a bootstrap: every signal at its default action, none blocked. Ignored
# signals survive exec (Python ignores SIGPIPE and SIGXFSZ; nohup, CI runners and supervisors ignore SIGHUP,
# SIGINT or SIGTERM), and a shell cannot even trap a signal that was ignored when it started. (glibc's
# posix_spawn still leaves the two signals it reserves for itself, 32 and 33, ignored.)
SIGNALS_TO_DEFAULT = frozenset(_signal.valid_signals()) - {_signal.SIGKILL, _signal.SIGSTOP}

ELF_MAGIC = b"\x7fELF"
_ELF_MACHINES = {3: "i386", 8: "mips", 20: "ppc", 21: "ppc64", 22: "s390x", 40: "arm", 62: "x86_64",
                 183: "aarch64", 243: "riscv64"}
_HOST_ALIASES = {"amd64": "x86_64", "arm64": "aarch64", "i686": "i386"}


def host_machine() -> str:
    machine = os.uname().machine
    return _HOST_ALIASES.get(machine, machine)


def elf_machine(header: bytes) -> str | None:
    """The architecture an ELF header names, or None when the bytes are not an ELF header."""
    if len(header) < 20 or not header.startswith(ELF_MAGIC):
        return None
    code = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
    return _ELF_MACHINES.get(code, f"machine {code}")


def _looks_runnable(path: str) -> bool:
    """A regular file that is executable, an ELF, or a script: a candidate in ``bin/``."""
    if not os.path.isfile(path):
        return False
    if os.access(path, os.X_OK):
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return head == ELF_MAGIC or head.startswith(b"#!")


def _unusable(path: str) -> BinaryNotExecutable:
    return BinaryNotExecutable(
        f"{path} can be neither executed nor read by this function (uid {os.getuid()}, mode "
        f"{os.stat(path).st_mode & 0o7777:04o}): give it mode 0755 before it is packaged "
        f"(./build.sh package records 0755 for bin/*)"
    )


def locate(task_root: str, configured: str) -> str:
    """The binary's absolute path: ``BRIDGE_BINARY``, or the one executable in ``bin/``."""
    if configured:
        path = os.path.join(task_root, configured)
        if not os.path.exists(path):
            raise BinaryNotFound(f"BRIDGE_BINARY={configured!r}: no such file ({path}); build the binaries with "
                                 f"./build.sh (or ./build.sh package for the zip), or correct BRIDGE_BINARY")
        return path
    bin_dir = os.path.join(task_root, "bin")
    try:
        entries = sorted(e for e in os.listdir(bin_dir) if not e.startswith("."))
    except FileNotFoundError:
        raise BinaryNotFound(f"BRIDGE_BINARY is not set and {bin_dir} does not exist: build the binaries with "
                             f"./build.sh (src/<function>/ -> bin/<function>), or set BRIDGE_BINARY") from None
    found = [e for e in entries if _looks_runnable(os.path.join(bin_dir, e))]
    if len(found) != 1:
        held = ", ".join(entries) if entries else "nothing"
        raise BinaryNotFound(
            f"BRIDGE_BINARY is not set and {bin_dir} holds {len(found)} executables "
            f"(it holds: {held}); set BRIDGE_BINARY to the one to run"
        )
    return os.path.join(bin_dir, found[0])


def check_format(path: str) -> None:
    """Refuse files the kernel cannot run here, with a message that says why. An executable that
    cannot be read (mode 0711) is not checked: the kernel will say at exec."""
    if not os.path.isfile(path):
        raise BinaryNotFound(f"{path} is not a regular file")
    try:
        with open(path, "rb") as f:
            header = f.read(64)
    except PermissionError:
        if os.access(path, os.X_OK):
            return
        raise _unusable(path) from None
    if header.startswith(b"#!"):
        return
    machine = elf_machine(header)
    if machine is None:
        raise BinaryFormatError(f"{path} is neither an ELF executable nor a #! script (starts with {header[:8]!r})")
    if machine != host_machine():
        raise BinaryFormatError(
            f"{path} is built for {machine} but this machine is {host_machine()}: rebuild it for "
            f"{host_machine()} or set the function's architecture to match"
        )


def _copy_executable(path: str) -> str:
    """An executable copy of ``path`` under TMPDIR, shared by every process of the environment.

    Named by the file's identity (name, size, modification time), so a warm start, a second runtime
    worker (Lambda Managed Instances) or a restored snapshot finds it made; made under a private name
    and renamed into place, so workers making it at once never run a half-written file. It stays for
    the environment's lifetime: another worker may be running it.
    """
    info = os.stat(path)
    directory = os.path.join(os.environ.get("TMPDIR") or "/tmp", f"exec-bridge-{os.getuid()}")
    copy = os.path.join(directory, f"{os.path.basename(path)}-{info.st_size}-{info.st_mtime_ns}")
    if os.access(copy, os.X_OK) and os.stat(copy).st_size == info.st_size:
        return copy
    partial = f"{copy}.{os.getpid()}.{os.urandom(4).hex()}.partial"
    try:
        os.makedirs(directory, 0o700, exist_ok=True)
        with open(path, "rb") as source, open(partial, "xb") as target:
            while chunk := source.read(1 << 20):
                target.write(chunk)
        os.chmod(partial, 0o755)
        os.replace(partial, copy)
    except OSError as exc:
        try:
            os.unlink(partial)
        except OSError:
            pass
        raise BinaryNotExecutable(f"{path} is not executable and copying it to {directory} failed: {exc}") from None
    return copy


def program(task_root: str, configured: str, args: tuple[str, ...], environ: dict[str, str]) -> Program:
    """The binary, ready to start: located, checked, executable; a bundle (``./build.sh bundle``) with its
    own variables, and through its own loader when it carries its own glibc."""
    located = locate(task_root, configured)
    check_format(located)
    from . import bundle  # one failed open for a binary that is no bundle

    manifest = bundle.read(located)
    if manifest is None:
        return Program(executable(located), args, environ)
    env = bundle.environment(located, manifest, environ)
    through = bundle.loader_argv(located, manifest)
    if through is None:
        return Program(executable(located), args, env)
    loader, before = through
    return Program(executable(loader), (*before, *args), env, located)


def executable(path: str) -> str:
    """``path``, or its executable copy in /tmp when its exec bit was lost."""
    if os.access(path, os.X_OK):
        return path
    copy = _copy_executable(path)
    from . import logs  # only now: a handoff's init imports no more than it needs

    logs.warn(
        f"{path} is not executable (the exec bit was lost when the package was built); running a copy "
        f"at {copy}. Fix the package: build the zip on Linux or macOS, or record mode 0755 for "
        f"bin/* (./build.sh package does)."
    )
    return copy


def spawn_error(path: str, exc: OSError) -> Exception:
    """A typed error for an exec that failed although the checks at init passed."""
    if exc.errno == errno.ENOENT and os.path.exists(path):
        return BinaryFormatError(
            f"{path} cannot start: its ELF interpreter (dynamic loader) or #! interpreter is missing "
            f"on this system; link it statically"
        )
    if exc.errno == errno.ENOENT:
        return BinaryNotFound(f"{path}: no such file")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return BinaryNotExecutable(f"{path}: permission denied ({exc.strerror})")
    if exc.errno == errno.ENOEXEC:
        return BinaryFormatError(f"{path}: exec format error (not an executable for this machine)")
    return BinaryNotExecutable(f"{path}: cannot start: {exc}")


def base_environment(environ: dict[str, str] | os._Environ) -> dict[str, str]:
    """The function's environment as the binary gets it: HOME and TMPDIR somewhere writable.

    On Lambda only /tmp is writable; a HOME that cannot be written to is pointed at TMPDIR.
    """
    env = dict(environ)
    tmp = env.get("TMPDIR") or "/tmp"
    env["TMPDIR"] = tmp
    home = env.get("HOME")
    if not home or not os.access(home, os.W_OK):
        env["HOME"] = tmp
    return env


class Program:
    """The binary, ready to start: its argv and the environment every call starts from."""

    __slots__ = ("path", "argv", "environ", "name")

    def __init__(self, path: str, args: tuple[str, ...], environ: dict[str, str], name: str = "") -> None:
        self.path = path  # what is executed: the program, or the loader of a bundle with its own glibc
        self.argv = (path, *args)
        self.environ = environ
        self.name = name or path  # the program itself

    def start(self, env: dict[str, str], *, big_pipes: bool = False, small_input: bool = False) -> Child:
        """Spawn it (no shell, own process group); exec failures become typed errors."""
        from .process import Child

        try:
            return Child(self.argv, env, big_pipes=big_pipes, small_input=small_input)
        except OSError as exc:
            raise spawn_error(self.path, exc) from None
