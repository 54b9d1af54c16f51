"""Lambda log records, made as the python runtime makes them and written where it writes them.

The runtime client (awslambdaric) puts a handler on the root logger that formats each record in the
function's log format (``AWS_LAMBDA_LOG_FORMAT``: text, or JSON with ``timestamp``, ``level``,
``message``, ``logger``, ``requestId``), drops those below ``AWS_LAMBDA_LOG_LEVEL``, and writes each as a
frame on the telemetry channel the platform gave it, or as a line on stdout without one. Going through
``logging`` costs 35-50 µs a record, a hundred times a raw write, so the binary's output lines are
formatted here the same way and handed to that same channel in batches: one write per chunk read.
The bridge's own warnings do go through ``logging`` (they are rare), so the runtime formats them itself.

Outside the runtime (the CLI, the tests, an embedding program) records go to stderr in the same format.
"""

from __future__ import annotations

import logging
import operator
import os
import threading
import time

from . import codec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from contextlib import AbstractContextManager

DEBUG, INFO, WARNING, ERROR, CRITICAL = 10, 20, 30, 40, 50
LEVELS = {"TRACE": DEBUG, "DEBUG": DEBUG, "INFO": INFO, "WARN": WARNING, "WARNING": WARNING, "ERROR": ERROR,
          "CRITICAL": CRITICAL, "FATAL": CRITICAL}
_NAMES = {DEBUG: b"DEBUG", INFO: b"INFO", WARNING: b"WARNING", ERROR: b"ERROR", CRITICAL: b"CRITICAL"}
# The frame types of the runtime's telemetry protocol (awslambdaric's lambda_runtime_log_utils).
_JSON_FRAMES = {DEBUG: 0xA55A000A, INFO: 0xA55A000E, WARNING: 0xA55A0012, ERROR: 0xA55A0016, CRITICAL: 0xA55A001A}
_TEXT_FRAMES = {level: frame + 1 for level, frame in _JSON_FRAMES.items()}
_TEXT_FRAME_UNTYPED = 0xA55A0003
LEVEL_KEYS = ("level", "severity", "levelname")
MESSAGE_KEYS = ("message", "msg")
BINARY_LOGGER = "exec-bridge.binary"

# What a JSON string may hold without escaping: printable ASCII but the quote and the backslash.
_PLAIN = bytes(range(0x20, 0x7F)).replace(b'"', b"").replace(b"\\", b"")
_PLAIN_LINES = _PLAIN + b"\n"
_SLOT = b"<exec-bridge: the line goes here>"  # plain ASCII: a JSON string holds it as it is


def level_number(name: object) -> int | None:
    """A level name as Lambda and its libraries spell it (any case; TRACE is DEBUG, WARN is WARNING)."""
    return LEVELS.get(name.upper()) if isinstance(name, str) else None


def _json_string(line: bytes) -> bytes:
    if not line.translate(None, _PLAIN):
        return b'"' + line + b'"'
    return codec.dumps(line.decode("utf-8", "replace"))


class Writer:
    """Formats the binary's lines as records of the function's log format and writes them in batches."""

    def __init__(self, environ: Mapping[str, str], default_level: int, fd: int = 2, *, framed: bool = False,
                 runtime: bool = False, lock: AbstractContextManager | None = None) -> None:
        """``fd``: where records go; ``framed``: it is the runtime's telemetry channel, which takes frames;
        ``lock``: held around each write, shared with every other writer of ``fd`` (the runtime's handler,
        batch records logging from their threads), so records never interleave."""
        self.runtime = runtime  # the runtime client's own handler is there: its channel is the one used
        self.json = (environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
        configured = environ.get("AWS_LAMBDA_LOG_LEVEL")
        self.threshold = level_number(configured) or 0  # none, or one Lambda does not name: everything
        self.default_level = default_level
        self._framed = framed
        self._fd = fd
        self._lock = lock if lock is not None else threading.Lock()
        # awslambdaric types text frames by level only when a log level is configured.
        if self.json or configured:
            types = _JSON_FRAMES if self.json else _TEXT_FRAMES
            self._frames = {level: types[level].to_bytes(4, "big") for level in _NAMES}
        else:
            self._frames = dict.fromkeys(_NAMES, _TEXT_FRAME_UNTYPED.to_bytes(4, "big"))
        self._frames[0] = self._frames[INFO]  # Embedded Metric Format objects

    def enabled(self, level: int) -> bool:
        return level >= self.threshold

    def lines(self, lines: Sequence[bytes | bytearray], request_id: str, logger: str = BINARY_LOGGER) -> None:
        """One record for each line (no newline in it): plain text at the default level, or a JSON object
        with its own level and fields; an Embedded Metric Format object (``_aws``) as it is."""
        if not lines:
            return
        now = time.time()
        joined = b"\n".join(lines)
        if joined[:1] == b"{" or b"\n{" in joined:  # maybe JSON objects: each line on its own
            self._each(lines, request_id, logger, now)
        elif self.enabled(self.default_level):
            if self.json and joined.translate(None, _PLAIN_LINES):  # some line needs escaping
                self._each(lines, request_id, logger, now)
            else:  # the common case: every record is a head, the line, a tail, batched in C
                template = self._plain(_SLOT, self.default_level, self._stamp(now), request_id, logger)
                head, tail = template.split(_SLOT)
                self._write_same(head, tail, lines, self.default_level, now)

    def _each(self, lines: Sequence[bytes | bytearray], request_id: str, logger: str, now: float) -> None:
        stamp = self._stamp(now)
        records: list[tuple[int, bytes]] = []
        default = self.default_level
        plain_ok = self.enabled(default)
        for line in map(bytes, lines):
            if line[:1] == b"{" and line.rstrip()[-1:] == b"}":
                record = self._object(line, stamp, request_id, logger)
                if record is not None:
                    if record[0] == 0 or self.enabled(record[0]):
                        records.append(record)
                    continue
            if plain_ok:
                records.append((default, self._plain(line, default, stamp, request_id, logger)))
        if records:
            self._write(records, now)

    def message(self, level: int, text: str, request_id: str, logger: str) -> None:
        """One record of the bridge's own, outside the runtime."""
        if self.enabled(level):
            now = time.time()
            self._write([(level, self._plain(text.encode("utf-8", "replace"), level, self._stamp(now),
                                             request_id, logger))], now)

    def _stamp(self, now: float) -> bytes:
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
        if self.json:
            return f"{seconds}Z".encode()
        return f"{seconds}.{int(now * 1000) % 1000:03d}Z".encode()

    def _plain(self, line: bytes, level: int, stamp: bytes, request_id: str, logger: str) -> bytes:
        if self.json:
            tenant = b',"tenantId":%b' % _json_string(tenant_id.encode()) if tenant_id else b""
            return (b'{"timestamp":"%b","level":"%b","message":%b,"logger":"%b","requestId":"%b"%b}\n'
                    % (stamp, _NAMES[level], _json_string(line), logger.encode(), request_id.encode(), tenant))
        return b"[%b]\t%b\t%b\t%b\n" % (_NAMES[level], stamp, request_id.encode(), line)

    def _object(self, line: bytes, stamp: bytes, request_id: str, logger: str) -> tuple[int, bytes] | None:
        """A JSON object line: (its level, its record); level 0 for an EMF object, which is never
        filtered. None when the line is not a JSON object after all."""
        try:
            fields = codec.loads(line)
        except codec.DecodeError:
            return None
        if not isinstance(fields, dict):
            return None
        if "_aws" in fields:  # Embedded Metric Format: CloudWatch reads the metrics from the top level
            return 0, line.rstrip() + b"\n"
        lowered = {key.lower(): key for key in fields if isinstance(key, str)}
        level = self.default_level
        for key in LEVEL_KEYS:
            if key in lowered:
                level = level_number(fields[lowered[key]]) or level
                break
        message = next((fields.pop(lowered[key]) for key in MESSAGE_KEYS if key in lowered), None)
        if not self.json:
            return level, b"[%b]\t%b\t%b\t%b\n" % (_NAMES[level], stamp, request_id.encode(), line.rstrip())
        record = {"timestamp": stamp.decode(), "level": _NAMES[level].decode(), "message": message,
                  "logger": logger, "requestId": request_id}
        if tenant_id:
            record["tenantId"] = tenant_id
        for key, value in fields.items():  # the binary's own fields win, but for its level, request and tenant
            if key not in ("requestId", "tenantId", lowered.get("level")):
                record[key] = value
        if message is None:
            del record["message"]
        try:
            return level, codec.dumps(record) + b"\n"
        except codec.EncodeError:
            return None

    def _write(self, records: list[tuple[int, bytes]], now: float) -> None:
        if not self._framed:
            self._write_fd(b"".join(record for _, record in records))
            return
        micros = int(now * 1_000_000).to_bytes(8, "big")
        frames = self._frames
        self._write_fd(b"".join(
            frames[level] + len(record).to_bytes(4, "big") + micros + record for level, record in records))

    def _write_same(self, head: bytes, tail: bytes, lines: Sequence[bytes | bytearray], level: int,
                    now: float) -> None:
        """Records that are each ``head + line + tail``."""
        if not self._framed:
            self._write_fd(head, (tail + head).join(lines), tail)
            return
        starts = _FrameStarts(tail, self._frames[level], int(now * 1_000_000).to_bytes(8, "big"), head)
        # Each line with what goes before it, looked up by its length: a loop in C, one object per record.
        joined = b"".join(map(operator.add, map(starts.__getitem__, map(len, lines)), lines))
        self._write_fd(memoryview(joined)[len(tail):], tail)  # the first record has no record before it

    def _write_fd(self, *pieces: bytes | memoryview) -> None:
        """Write the pieces, whole and in order, under the lock: one ``writev`` when the fd takes them all
        (no joined copy of a big batch), the rest written until done (a pipe may take part of a write)."""
        with self._lock:
            written = os.writev(self._fd, pieces)
            if written < sum(map(len, pieces)):
                view = memoryview(b"".join(pieces))[written:]
                while view:
                    view = view[os.write(self._fd, view):]


class _FrameStarts(dict[int, bytes]):
    """What comes before a line in a batch of framed records, by the line's length (few lengths recur):
    the previous record's tail, then this record's frame header (whose length counts the line) and head."""

    __slots__ = ("_tail", "_frame", "_micros", "_head", "_fixed")

    def __init__(self, tail: bytes, frame: bytes, micros: bytes, head: bytes) -> None:
        super().__init__()
        self._tail, self._frame, self._micros, self._head = tail, frame, micros, head
        self._fixed = len(head) + len(tail)

    def __missing__(self, size: int) -> bytes:
        start = self[size] = (self._tail + self._frame + (self._fixed + size).to_bytes(4, "big") + self._micros
                              + self._head)
        return start


request_id = ""  # the call in progress, for the bridge's own records outside the runtime (Bridge.invoke sets it)
tenant_id = ""  # its tenant (tenant isolation), on every JSON record as awslambdaric puts it on its own
_writer: Writer | None = None


def configure(default_level: int = INFO) -> Writer:
    """The writer for this process: the runtime's channel when its handler is on the root logger (its
    telemetry file, or stdout without one), else stderr. Made at the bridge's init, after the runtime
    has set up its logging."""
    global _writer
    _writer = None
    for handler in logging.getLogger().handlers:
        sink = getattr(handler, "log_sink", None)  # awslambdaric's LambdaLoggerHandler
        if sink is not None:
            file = getattr(sink, "file", None)  # FramedTelemetryLogSink; StandardLogSink writes to stdout
            _writer = Writer(os.environ, default_level, file.fileno() if file is not None else 1,
                             framed=file is not None, runtime=True, lock=handler.lock)
            break
    if _writer is None:
        _writer = Writer(os.environ, default_level)
    return _writer


def writer() -> Writer:
    return _writer if _writer is not None else configure()
