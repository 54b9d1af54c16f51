"""Batch event sources (``BRIDGE_BATCH=records``): SQS, Kinesis and DynamoDB Streams, one run per record,
answered with a partial batch response.

Lambda retries what ``{"batchItemFailures": [{"itemIdentifier": ID}, ...]}`` names (when the event
source mapping lists ``ReportBatchItemFailures``) and deletes or checkpoints the rest, so one bad record
no longer sends the whole batch back. The semantics are those of Powertools' batch utilities:

- a record fails when the binary fails on it in any way the bridge types (exit status, signal, timeout,
  invalid output, ...); each failure is logged with the record's id and errorType;
- ordered sources (SQS FIFO queues, Kinesis, DynamoDB Streams) stop at the first failure and report it
  and every later record, which would otherwise be processed out of order (or twice, after the retry);
- records of a standard queue are independent: in oneshot mode up to ``BRIDGE_BATCH_CONCURRENCY`` run
  at once, and failures are reported in record order whatever the finishing order;
- a record is not started once the invocation's deadline (less the margin) has passed: it is reported
  failed, so a slow batch returns what succeeded instead of timing out as a whole;
- when every record fails the call raises ``BatchFailed`` (so error metrics and alarms see it), unless
  ``BRIDGE_BATCH_ALL_FAILED=report``.
"""

from __future__ import annotations

import base64
import binascii
import threading

from . import logs
from .config import BatchAllFailed, Config, Stdin
from .errors import BatchFailed, BinaryError, BridgeError, InvalidEvent
from .event import Event

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .invocation import Invocation
    from .types import Mode


def _fifo(record: dict) -> bool:
    """A FIFO queue's records must stay in order; a standard queue's are independent."""
    return str(record.get("eventSourceARN") or "").endswith(".fifo")


def _stream(record: dict) -> bool:
    """A stream's records are always in order: it checkpoints at the lowest failed one."""
    return True


def _sqs_body(record: dict) -> bytes | None:
    body = record.get("body")
    return body.encode("utf-8", "surrogatepass") if isinstance(body, str) else None


def _kinesis_data(record: dict) -> bytes | None:
    data = (record.get("kinesis") or {}).get("data")
    try:
        return base64.b64decode(data, validate=True) if isinstance(data, str) else None
    except binascii.Error as exc:
        raise InvalidEvent(f"the record's kinesis.data is not base64: {exc}") from None


def _no_body(record: dict) -> bytes | None:
    return None  # a DynamoDB stream record has no body of its own: stdin gets the record as JSON


class Source:
    """An event source's record: where its identifier is, whether order matters, what its body is."""

    __slots__ = ("name", "_path", "ordered", "body")

    def __init__(self, name: str, path: tuple[str, ...], ordered: Callable[[dict], bool],
                 body: Callable[[dict], bytes | None]) -> None:
        self.name = name
        self._path = path
        self.ordered = ordered
        self.body = body

    def identifier(self, record: dict) -> object:
        value: object = record
        for key in self._path:
            value = value.get(key) if isinstance(value, dict) else None
        return value


SOURCES = {
    "aws:sqs": Source("SQS", ("messageId",), _fifo, _sqs_body),
    "aws:kinesis": Source("Kinesis", ("kinesis", "sequenceNumber"), _stream, _kinesis_data),
    "aws:dynamodb": Source("DynamoDB Streams", ("dynamodb", "SequenceNumber"), _stream, _no_body),
}


class Batch:
    """A batch event's records, all of one source, each with the identifier Lambda expects back."""

    __slots__ = ("source", "records", "ids", "ordered")

    def __init__(self, source: Source, records: list[dict]) -> None:
        self.source = source
        self.records = records
        self.ids = [str(source.identifier(record)) for record in records]
        self.ordered = source.ordered(records[0])


def recognise(event: object) -> Batch | str:
    """The batch ``event`` is, or why it is not one (a record of another source, one without an id)."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        return "the event is not a batch of records"
    origin = records[0].get("eventSource")
    source = SOURCES.get(origin) if isinstance(origin, str) else None
    if source is None:
        return f"its records' eventSource {origin!r} is not SQS, Kinesis or DynamoDB Streams"
    for number, record in enumerate(records):
        if record.get("eventSource") != origin:
            return f"record {number} is not of the event's source ({origin})"
        identifier = source.identifier(record)
        if not isinstance(identifier, str) or not identifier:
            return f"record {number} has no {source.name} identifier to report"
    return Batch(source, records)


class NotStarted(BridgeError):
    """A record left unprocessed: an earlier one failed (ordered source), or no time was left."""


class Runner:
    """Runs a batch's records through the mode and answers with the partial batch response."""

    def __init__(self, mode: Mode, new_mode: Callable[[], Mode], config: Config, concurrency: int) -> None:
        self.mode = mode
        self.config = config
        # Oneshot calls share nothing but the mode's reply storage: a worker thread gets a mode of its own.
        self.concurrency = concurrency if mode.independent_calls else 1
        self._new_mode = new_mode
        self._spare: list[Mode] = []
        self._not_batch_logged = False

    def batch_of(self, event: object) -> Batch | None:
        """The batch ``event`` is; None for any other event, which goes whole to the binary (logged once:
        a function may well get other events too)."""
        found = recognise(event)
        if isinstance(found, Batch):
            return found
        if not self._not_batch_logged:
            self._not_batch_logged = True
            logs.warn(f"BRIDGE_BATCH=records, but {found}: the whole event goes to the binary, as any event")
        return None

    def run(self, batch: Batch, invocation: Invocation) -> dict:
        if batch.ordered or self.concurrency == 1 or len(batch.records) == 1:
            errors = self._in_order(batch, invocation)
        else:
            errors = self._at_once(batch, invocation)
        failed = []
        for identifier, error in zip(batch.ids, errors, strict=True):
            if error is not None:
                failed.append(identifier)
                logs.warn(f"{batch.source.name} record {identifier} failed: {type(error).__name__}: {error}")
        if failed and len(failed) == len(batch.records) and self.config.batch_all_failed is BatchAllFailed.RAISE:
            first = next(error for error in errors if error is not None)
            raise BatchFailed(f"all {len(failed)} records of the {batch.source.name} batch failed; the first: "
                              f"{type(first).__name__}: {first}")
        return {"batchItemFailures": [{"itemIdentifier": identifier} for identifier in failed]}

    def _in_order(self, batch: Batch, invocation: Invocation) -> list[Exception | None]:
        errors: list[Exception | None] = []
        stopped = False  # an ordered batch stops at its first failure
        for record in batch.records:
            if stopped:
                errors.append(NotStarted("not processed: an earlier record of this ordered batch failed"))
                continue
            error = self._process(self.mode, batch, record, invocation)
            errors.append(error)
            stopped = batch.ordered and error is not None
        return errors

    def _at_once(self, batch: Batch, invocation: Invocation) -> list[Exception | None]:
        errors: list[Exception | None] = [None] * len(batch.records)
        pending = iter(range(len(batch.records)))
        lock = threading.Lock()

        def work(mode: Mode) -> None:
            while True:
                with lock:
                    index = next(pending, None)
                if index is None:
                    return
                errors[index] = self._process(mode, batch, batch.records[index], invocation)

        workers = min(self.concurrency, len(batch.records))
        while len(self._spare) < workers - 1:
            self._spare.append(self._new_mode())
        threads = [threading.Thread(target=work, args=(mode,)) for mode in self._spare[:workers - 1]]
        for thread in threads:
            thread.start()
        work(self.mode)
        for thread in threads:
            thread.join()
        return errors

    def _process(self, mode: Mode, batch: Batch, record: dict, invocation: Invocation) -> Exception | None:
        """None when the binary succeeded on ``record``; its typed error otherwise."""
        if invocation.time_left() <= 0:
            return NotStarted("not started: the invocation's deadline less BRIDGE_TIMEOUT_MARGIN_MS had passed")
        try:
            body = batch.source.body(record) if self.config.stdin is Stdin.BODY else None
            reply = mode.call(Event(record, body=body), invocation)
            reply.result(self.config.output, None)  # its output must be valid too
        except (BridgeError, BinaryError) as exc:
            return exc
        return None

    def close(self) -> None:
        for mode in self._spare:
            mode.close()
