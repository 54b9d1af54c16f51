"""Files in, files out, for programs that read and write files rather than stdin and stdout (``convert in.png
out.jpg``, LibreOffice, ghostscript): ``BRIDGE_ARGS`` names ``{input}`` and/or ``{output}``, optionally with
an extension the program goes by (``{input.png}``, ``{output.pdf}``).

Each call gets a private directory under TMPDIR (mode 0700): what would have gone to stdin is written to
the input file, the output file's bytes are the reply, and the directory is removed after the call,
whatever happened.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile

from .errors import InvalidOutput, OutputTooLarge

PLACEHOLDER = re.compile(r"\{(input|output)(\.[A-Za-z0-9]{1,16})?\}")


def writes_output(args: tuple[str, ...]) -> bool:
    return any(match.group(1) == "output" for arg in args for match in PLACEHOLDER.finditer(arg))


class CallDirectory:
    """One call's private directory: ``with CallDirectory() as files:``, then ``argv``, ``write_input``,
    ``read_output``."""

    def __init__(self) -> None:
        self.path = ""

    def __enter__(self) -> CallDirectory:
        self.path = tempfile.mkdtemp(prefix="exec-bridge-call-", dir=os.environ.get("TMPDIR") or "/tmp")
        return self

    def __exit__(self, *_: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def _file(self, match: re.Match[str]) -> str:
        return os.path.join(self.path, match.group(1) + (match.group(2) or ""))

    def argv(self, args: tuple[str, ...]) -> tuple[str, ...]:
        """``args`` with each placeholder made this call's file."""
        return tuple(PLACEHOLDER.sub(self._file, arg) for arg in args)

    def write_input(self, args: tuple[str, ...], payload: bytes) -> None:
        """The payload, in every input file the arguments name."""
        for arg in args:
            for match in PLACEHOLDER.finditer(arg):
                if match.group(1) == "input":
                    with open(self._file(match), "wb") as file:
                        file.write(payload)

    def read_output(self, args: tuple[str, ...], limit: int) -> bytes:
        """The output file's bytes: ``InvalidOutput`` when the program wrote none, ``OutputTooLarge`` past
        ``limit``."""
        match = next(m for arg in args for m in PLACEHOLDER.finditer(arg) if m.group(1) == "output")
        path = self._file(match)
        try:
            with open(path, "rb") as file:
                data = file.read(limit + 1)
        except FileNotFoundError:
            raise InvalidOutput(f"the program exited 0 but wrote no {match.group(0)} file ({os.path.basename(path)})"
                                ) from None
        if len(data) > limit:
            raise OutputTooLarge(f"the program's {match.group(0)} file is over {limit} bytes (BRIDGE_MAX_OUTPUT_BYTES)")
        return data
