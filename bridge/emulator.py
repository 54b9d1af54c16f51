"""A local Lambda: the Runtime API server driving any runtime client, Docker-free.

    python -m bridge.emulator [--task-root DIR] [--handler handler.handler] [--port N] [--timeout S]
                              [-- COMMAND ...] < events

By default it runs the real AWS Python runtime client, ``python -m awslambdaric HANDLER``, which is
what runs ``handler.handler`` on Lambda, in the task root (default: the current directory), e.g. an
unzipped deployment package. It is a developer tool: the deployment package does not ship it. Give a COMMAND
to drive another runtime (a custom ``bootstrap``) instead. Events come on stdin: one JSON document,
or one per line. For each, one line on stdout:
``{"requestId": ..., "response": ..., "runtimePid": ...}`` (``responseBase64`` for a body that is not JSON)
or ``{"requestId": ..., "error": <the body the runtime posted>, ...}``.
An init failure prints ``{"initError": ...}``. Exit status: 0 when every event succeeded, 1 otherwise,
2 for unusable input.

As Lambda does, it hands the runtime a telemetry channel (``_LAMBDA_TELEMETRY_LOG_FD``) for its log
records, and prints each record it receives on stderr: what CloudWatch would get, in the function's
log format (``AWS_LAMBDA_LOG_FORMAT``, ``AWS_LAMBDA_LOG_LEVEL``).
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import sys
import threading

from . import codec
from .binary import Program, base_environment, check_format
from .cli import lambda_error, positive_seconds
from .config import Config
from .context import LocalContext
from .event import Event
from .invocation import Invocation
from .modes.runtime_api import RuntimeApi
from .process import become_subreaper

FUNCTION_DEFAULTS = {
    "AWS_LAMBDA_FUNCTION_NAME": "exec-bridge-emulated",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/exec-bridge-emulated",
    "AWS_LAMBDA_LOG_STREAM_NAME": "emulated",
    "AWS_REGION": "us-east-1",
}


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
    for name, value in FUNCTION_DEFAULTS.items():
        environ.setdefault(name, value)
    environ["LAMBDA_TASK_ROOT"] = task_root  # as Lambda sets it
    layers = [os.path.join(os.path.abspath(layer), "python") for layer in args.layer]
    if layers:
        environ["PYTHONPATH"] = os.pathsep.join([*layers, *filter(None, [environ.get("PYTHONPATH")])])
    os.environ.update({k: v for k, v in environ.items() if k in FUNCTION_DEFAULTS})
    config = Config.from_environ(task_root, {"BRIDGE_MODE": "runtime-api", "BRIDGE_HANDLER": args.handler,
                                             "BRIDGE_TIMEOUT_MARGIN_MS": "0"})
    become_subreaper()
    telemetry, environ["_LAMBDA_TELEMETRY_LOG_FD"] = _telemetry_channel()
    printer = threading.Thread(target=print_frames, args=(telemetry[0],), daemon=True)
    printer.start()
    runtime = RuntimeApi(runtime_program(command, environ), config, port=args.port)
    failed = False
    try:
        for event in events:
            context = LocalContext(args.timeout)
            line: dict[str, object] = {"requestId": context.aws_request_id}
            try:
                response = runtime.call(Event(event), Invocation(context, 0)).value
                if isinstance(response, bytes):  # not JSON: shown exactly
                    line["responseBase64"] = base64.b64encode(response).decode()
                else:
                    line["response"] = response
            except Exception as exc:  # the body the runtime posted, else the bridge's own failure
                failed = True
                posted = getattr(exc, "document", None) or lambda_error(exc)
                line["initError" if getattr(exc, "during_init", False) else "error"] = posted
            if runtime.child is not None:  # the runtime's process: after a handoff, the bootstrap's pid
                line["runtimePid"] = runtime.child.pid
            sys.stdout.buffer.write(codec.dumps(line) + b"\n")
            sys.stdout.flush()
    finally:
        runtime.close()
        os.close(telemetry[1])  # with the runtime gone too, the printer reads to the end
        printer.join(timeout=5)
    return 1 if failed else 0


def _telemetry_channel() -> tuple[tuple[int, int], str]:
    """A pipe whose write end every runtime process started inherits, and its number for the environment."""
    read, write = os.pipe()
    os.set_inheritable(write, True)
    return (read, write), str(write)


if __name__ == "__main__":
    sys.exit(main())
