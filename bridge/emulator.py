"""A local Lambda: the Runtime API server driving any runtime client, Docker-free.

    python -m bridge.emulator [--task-root DIR] [--handler handler.handler] [--port N] [--timeout S]
                              [--concurrency N] [--tenant-id ID] [-- COMMAND ...] < events

By default it runs the real AWS Python runtime client, ``python -m awslambdaric HANDLER``, which is
what runs ``handler.handler`` on Lambda, in the task root (default: the current directory), e.g. an
unzipped deployment package. It is a developer tool: the deployment package does not ship it. Give a COMMAND
to drive another runtime (a custom ``bootstrap``) instead. Events come on stdin: one JSON document,
or one per line. For each, one line on stdout:
``{"requestId": ..., "response": ..., "runtimePid": ...}`` (``responseBase64`` for a body that is not JSON)
or ``{"requestId": ..., "error": <the body the runtime posted>, ...}``.
An init failure prints ``{"initError": ...}``. Exit status: 0 when every event succeeded, 1 otherwise,
2 for unusable input.

``--concurrency N`` (default: ``AWS_LAMBDA_MAX_CONCURRENCY``) runs it as Lambda Managed Instances do: the
variable is passed on, awslambdaric 4.x forks N workers that each import the handler, up to N events are
in flight at once (answers matched by request id, printed in input order), and the workers' stdout and
stderr arrive over the Unix socket named by ``_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET``. A runtime that
times out or exits fails every event it had in flight, and a new one takes the rest.

As Lambda does, it hands the runtime a telemetry channel (``_LAMBDA_TELEMETRY_LOG_FD``) for its log
records, and prints each record it receives on stderr: what CloudWatch would get, in the function's
log format (``AWS_LAMBDA_LOG_FORMAT``, ``AWS_LAMBDA_LOG_LEVEL``).
"""

from __future__ import annotations

import argparse
import base64
import os
import selectors
import shutil
import socket
import sys
import tempfile
import threading

from . import codec
from .binary import Program, base_environment, check_format
from .cli import lambda_error, positive_seconds
from .config import Config
from .context import LocalContext, function_variables
from .event import Event
from .invocation import Invocation
from .modes.runtime_api import RuntimeApi
from .process import become_subreaper

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from .runtime_server import Delivery
    from .sandbox import Box
    from .types import Freezer

EMULATED_NAME = "exec-bridge-emulated"


def read_events(data: bytes) -> list[object]:
    """One JSON document, or one per non-empty line."""
    try:
        return [codec.loads(data)]
    except codec.DecodeError:
        return [codec.loads(line) for line in data.splitlines() if line.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bridge.emulator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--task-root", default=".", help="the function's directory (default: the current one)")
    parser.add_argument("--layer", action="append", default=[], metavar="DIR",
                        help="an unzipped layer: its python/ goes on the runtime's path, as /opt/python does")
    parser.add_argument("--handler", default="handler.handler", help="the function's handler (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="the Runtime API port on 127.0.0.1 (default: any free)")
    parser.add_argument("--timeout", type=positive_seconds, default=30.0, help="each invocation's timeout in seconds")
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY") or 0),
                        help="runtime workers, as Lambda Managed Instances run them (default: "
                             "AWS_LAMBDA_MAX_CONCURRENCY, else one runtime process)")
    parser.add_argument("--tenant-id", default="", help="the tenant every invocation is for (tenant isolation)")
    box = parser.add_argument_group("Lambda in a box (podman): the function in a container, as Lambda runs it")
    box.add_argument("--sandbox", action="store_true",
                     help="read-only root, /tmp only writable, uid 993, the memory limit, frozen between calls; "
                          "the task root mounted at /var/task on the Lambda base (./build.sh image makes it)")
    box.add_argument("--image", help="run this container image instead (e.g. localhost/exec-bridge:latest)")
    box.add_argument("--memory-mb", type=int, default=None,
                     help="the memory limit (default: serverless.yml's provider memorySize, else 128)")
    box.add_argument("--tmp-mb", type=int, default=512, help="the size of /tmp (default: %(default)s)")
    parser.add_argument("command", nargs="*", help="the runtime to run (default: python -m awslambdaric HANDLER)")
    return parser


def runtime_program(command: list[str], environ: dict[str, str]) -> Program:
    path = shutil.which(command[0]) or command[0]
    check_format(os.path.realpath(path))
    return Program(os.path.abspath(path), tuple(command[1:]), environ)


def print_frames(fd: int) -> None:
    """Each record of the telemetry channel (type, length, timestamp: 16 bytes; then the record), on stderr,
    until every writer has closed it."""
    with os.fdopen(fd, "rb") as channel:
        while header := channel.read(16):
            record = channel.read(int.from_bytes(header[4:8], "big"))
            sys.stderr.buffer.write(record if record.endswith(b"\n") else record + b"\n")
            sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        events = read_events(sys.stdin.buffer.read())
    except codec.DecodeError as exc:
        print(f"the input is neither one JSON document nor one per line: {exc}", file=sys.stderr)
        return 2
    task_root = os.path.abspath(args.task_root)
    os.chdir(task_root)  # the runtime starts there, as on Lambda (posix_spawn cannot chdir for it)
    command = args.command or [sys.executable, "-m", "awslambdaric", args.handler]
    environ = base_environment(os.environ)
    lambda_variables = {**function_variables(environ, EMULATED_NAME), "AWS_REGION": environ.get("AWS_REGION")
                        or "us-east-1"}
    environ.update(lambda_variables)
    environ["LAMBDA_TASK_ROOT"] = task_root  # as Lambda sets it
    layers = [os.path.join(os.path.abspath(layer), "python") for layer in args.layer]
    if layers:
        environ["PYTHONPATH"] = os.pathsep.join([*layers, *filter(None, [environ.get("PYTHONPATH")])])
    os.environ.update(lambda_variables)
    config = Config.from_environ(task_root, {"BRIDGE_MODE": "runtime-api", "BRIDGE_HANDLER": args.handler,
                                             "BRIDGE_TIMEOUT_MARGIN_MS": "0"})
    box = None
    if args.sandbox or args.image:
        from .sandbox import LAMBDA_BASE, Box, SandboxUnavailable, memory_size

        try:
            box = Box(args.image or LAMBDA_BASE, None if args.image else task_root,
                      args.memory_mb or memory_size(), args.tmp_mb)
        except SandboxUnavailable as exc:
            print(exc, file=sys.stderr)
            return 2
        command = box.command(environ, args.handler)
        environ = box.environ(environ)
    become_subreaper()
    telemetry, environ["_LAMBDA_TELEMETRY_LOG_FD"] = _telemetry_channel()
    printers = [threading.Thread(target=print_frames, args=(telemetry[0],), daemon=True)]
    log_socket = None
    if args.concurrency > 0:
        environ["AWS_LAMBDA_MAX_CONCURRENCY"] = str(args.concurrency)
        log_socket = LogSocket()
        environ[LogSocket.VARIABLE] = log_socket.path
        printers.append(threading.Thread(target=log_socket.relay, daemon=True))
    for printer in printers:
        printer.start()
    runtime = RuntimeApi(runtime_program(command, environ), config, port=args.port)
    printed = _Printer()
    try:
        for line in run_events(runtime, events, args.timeout, max(args.concurrency, 1), args.tenant_id, box):
            printed.add(line)
        if box is not None:
            _say_peak(box)
    finally:
        if box is not None:
            box.thaw()  # a frozen runtime cannot be stopped in order
        runtime.close()
        if box is not None:
            box.remove()
        os.close(telemetry[1])  # with the runtime gone too, the printer reads to the end
        if log_socket is not None:
            log_socket.stop()
        for printer in printers:
            printer.join(timeout=5)
    return 1 if printed.failed else 0


class _Call:
    """One event in flight: where its line goes in the output, what the runtime was handed, its line."""

    __slots__ = ("index", "delivery", "event", "invocation", "line")

    def __init__(self, index: int, delivery: Delivery, event: Event, invocation: Invocation, line: dict) -> None:
        self.index, self.delivery, self.event, self.invocation, self.line = index, delivery, event, invocation, line


def run_events(runtime: RuntimeApi, values: list[object], timeout: float, concurrency: int,
               tenant_id: str, freezer: Freezer | None = None) -> Iterator[tuple[int, dict]]:
    """Each event's line, with its index, as its answer comes: up to ``concurrency`` in flight at once. A
    ``freezer`` (the sandbox) is thawed before an event is delivered and frozen once nothing is in flight."""
    pending = list(enumerate(values))[::-1]
    in_flight: list[_Call] = []
    while pending or in_flight:
        while pending and len(in_flight) < concurrency:
            index, value = pending.pop()
            context = LocalContext(timeout, EMULATED_NAME)
            context.tenant_id = tenant_id or None
            event, invocation = Event(value), Invocation(context, 0)
            line: dict[str, object] = {"requestId": context.aws_request_id}
            if freezer is not None:
                freezer.thaw()
            try:
                in_flight.append(_Call(index, runtime.submit(event, invocation), event, invocation, line))
            except Exception as exc:  # the runtime could not start
                yield index, _failed(runtime, line, exc)
        if not in_flight:
            continue
        try:
            runtime.wait(min((call.invocation for call in in_flight), key=lambda i: i.deadline),
                         _any_done([call.delivery for call in in_flight]))
        except Exception as exc:  # the runtime timed out or broke: every call it had fails with it
            yield from _all_failed(runtime, in_flight, exc)
            in_flight = []
            continue
        answered = [call for call in in_flight if call.delivery.done()] or in_flight[:1]
        for call in answered:
            in_flight.remove(call)
            try:
                response = runtime.settle(call.delivery, call.event, call.invocation).result(runtime.config.output,
                                                                                             None)
            except Exception as exc:
                yield call.index, _failed(runtime, call.line, exc)
                if runtime.child is None:  # it was replaced: what it still had is lost with it
                    yield from _all_failed(runtime, in_flight, exc)
                    in_flight = []
                    break
                continue
            if isinstance(response, bytes):  # not JSON: shown exactly
                call.line["responseBase64"] = base64.b64encode(response).decode()
            else:
                call.line["response"] = response
            _add_pid(runtime, call.line)
            yield call.index, call.line
        if freezer is not None and not in_flight and runtime.child is not None:
            freezer.freeze()


def _say_peak(box: Box) -> None:
    peak = box.peak_memory()
    shown = f"{peak / 2**20:.1f} MiB" if peak is not None else "unknown (no memory cgroup found)"
    print(f"sandbox: peak memory {shown} of the {box.memory_mb} MiB limit (the whole box: runtime, bridge, binary)",
          file=sys.stderr)


def _any_done(deliveries: list[Delivery]) -> Callable[[], bool]:
    return lambda: any(delivery.done() for delivery in deliveries)


def _all_failed(runtime: RuntimeApi, in_flight: list[_Call], exc: Exception) -> Iterator[tuple[int, dict]]:
    for call in in_flight:
        yield call.index, _failed(runtime, call.line, exc)


def _failed(runtime: RuntimeApi, line: dict, exc: Exception) -> dict:
    """The body the runtime posted, else the bridge's own failure."""
    posted = getattr(exc, "document", None) or lambda_error(exc)
    line["initError" if getattr(exc, "during_init", False) else "error"] = posted
    line["failed"] = True
    _add_pid(runtime, line)
    return line


def _add_pid(runtime: RuntimeApi, line: dict) -> None:
    if runtime.child is not None:  # the runtime's process: after a handoff, the bootstrap's pid
        line["runtimePid"] = runtime.child.pid


class _Printer:
    """Prints each event's line in input order, as soon as it and every line before it are in."""

    def __init__(self) -> None:
        self.lines: dict[int, dict] = {}
        self.next = 0
        self.failed = False

    def add(self, indexed: tuple[int, dict]) -> None:
        index, line = indexed
        self.failed |= bool(line.pop("failed", False))
        self.lines[index] = line
        while self.next in self.lines:
            sys.stdout.buffer.write(codec.dumps(self.lines.pop(self.next)) + b"\n")
            sys.stdout.flush()
            self.next += 1


class LogSocket:
    """The Unix socket Lambda Managed Instances' workers write their stdout and stderr to: every line that
    arrives is printed on stderr, whole (workers' lines never interleave mid-line)."""

    VARIABLE = "_LAMBDA_TELEMETRY_LOG_FD_PROVIDER_SOCKET"

    def __init__(self) -> None:
        self._directory = tempfile.mkdtemp(prefix="exec-bridge-logs-")
        self.path = os.path.join(self._directory, "log.sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(64)
        self._stop_read, self._stop_write = os.pipe()

    def relay(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        selector.register(self._stop_read, selectors.EVENT_READ)
        partial: dict[socket.socket, bytes] = {}
        while True:
            for key, _ in selector.select():
                if key.fileobj == self._stop_read:
                    for rest in partial.values():
                        _print_line(rest)
                    selector.close()
                    self._close()
                    return
                if key.fileobj is self._listener:
                    connection, _ = self._listener.accept()
                    partial[connection] = b""
                    selector.register(connection, selectors.EVENT_READ)
                    continue
                connection = key.fileobj  # type: ignore[assignment]
                data = connection.recv(1 << 16)
                if not data:
                    selector.unregister(connection)
                    connection.close()
                    _print_line(partial.pop(connection))
                    continue
                *lines, partial[connection] = (partial[connection] + data).split(b"\n")
                for line in lines:
                    _print_line(line + b"\n")

    def stop(self) -> None:
        """Ask ``relay`` to print what is left and remove the socket."""
        os.write(self._stop_write, b"x")
        os.close(self._stop_write)

    def _close(self) -> None:
        self._listener.close()
        os.close(self._stop_read)
        os.unlink(self.path)
        os.rmdir(self._directory)


def _print_line(line: bytes) -> None:
    if line:
        sys.stderr.buffer.write(line if line.endswith(b"\n") else line + b"\n")
        sys.stderr.flush()


def _telemetry_channel() -> tuple[tuple[int, int], str]:
    """A pipe whose write end every runtime process started inherits, and its number for the environment."""
    read, write = os.pipe()
    os.set_inheritable(write, True)
    return (read, write), str(write)


if __name__ == "__main__":
    sys.exit(main())
