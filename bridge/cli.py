"""``python handler.py < event.json``: one invocation, locally, through the same code path as Lambda.

Exit status: 0 with the response JSON on stdout (a custom runtime's response that is not JSON: its bytes,
exactly); 1 with a Lambda-shaped error JSON on stderr; 2 when the input is not JSON (or the command line
is wrong).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import traceback

from . import codec
from .context import LocalContext

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above zero (nan and inf are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r}: give a finite number of seconds above zero")
    return value


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Invoke the bundled binary once, as Lambda would: the event JSON is read from stdin, "
        "the response JSON is written to stdout (a custom runtime's response that is not JSON: its exact "
        "bytes). On failure the Lambda error (errorType, errorMessage, "
        "stackTrace) is written to stderr and the exit status is 1; input that is not JSON exits 2. "
        "Configuration comes from the BRIDGE_* environment variables (see README.md).",
    )
    parser.add_argument("--binary", metavar="PATH", help="the binary to run (overrides BRIDGE_BINARY)")
    parser.add_argument(
        "--timeout", metavar="SECONDS", type=positive_seconds, default=30.0,
        help="the invocation's timeout, as the function's Timeout setting (default: 30)",
    )
    return parser


def lambda_error(exc: BaseException) -> dict:
    """The error document Lambda's python runtime reports for ``exc``."""
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
    }


def main(task_root: str, argv: list[str] | None = None, prog: str = "python handler.py") -> int:
    args = _parser(prog).parse_args(argv)  # a bad option: usage on stderr, exit 2
    data = sys.stdin.buffer.read()
    try:
        event = codec.loads(data)
    except codec.DecodeError as exc:
        print(f"the input is not one JSON document: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.binary:
        os.environ["BRIDGE_BINARY"] = os.path.abspath(args.binary)
    os.chdir(task_root)  # as on Lambda, the binary runs in the task root
    from .bridge import Bridge

    bridge = None
    try:
        bridge = Bridge.from_environ(task_root)
        result = bridge.invoke(event, LocalContext(args.timeout))
    except Exception as exc:
        sys.stderr.buffer.write(codec.dumps(lambda_error(exc)) + b"\n")
        return EXIT_ERROR
    finally:
        if bridge is not None:
            bridge.close()
    # bytes (a custom runtime's body that is not JSON) are the payload itself, as Lambda returns it
    sys.stdout.buffer.write(result if isinstance(result, bytes) else codec.dumps(result) + b"\n")
    return EXIT_OK


def entry() -> int:
    """The installed ``exec-bridge`` command (``pip install .``): ``exec-bridge [--binary PATH] [--timeout S]
    < event.json`` is this CLI with the current directory as the task root; ``exec-bridge emulate ...`` is
    ``python -m bridge.emulator ...``."""
    argv = sys.argv[1:]
    if argv[:1] == ["emulate"]:
        from .emulator import main as emulate

        return emulate(argv[1:])
    return main(os.getcwd(), argv, prog="exec-bridge")
