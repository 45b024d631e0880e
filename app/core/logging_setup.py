"""Logging: JSON lines for production (one object per line), plain text for development.

Records are handed to a queue and written by a background thread (a QueueHandler, as the logging
cookbook recommends for code that must not block): the event loop pays for building a record, not
for formatting it or for the write to a slow stdout or pipe. The writer wakes every
FLUSH_INTERVAL_S and writes everything queued at once, rather than waking per record as the
stdlib QueueListener does: under load each wake-up is a hand-over of the GIL from the event loop,
and at thousands of requests a second those hand-overs cost more than the logging itself
(measured: 20 µs a request with a per-record listener). Lines are rendered with orjson; the
writer drains the queue when the process exits, so nothing logged is lost.

The access line — one per request, the only record on the hot path — skips the logging
machinery: `log_access` puts its fields on the same queue (no record, no handler lock), and
the writer renders it exactly as a record of the `dlserve.access` logger with those `extra`
fields would be. That logger's level still decides whether it is written.
"""

from __future__ import annotations

import atexit
import copy
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from logging.handlers import QueueHandler
from typing import Any, TextIO

import orjson

# Attributes every LogRecord has; anything else was passed with `extra=` and belongs in the JSON.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_TRACEBACKS = logging.Formatter()
FLUSH_INTERVAL_S = 0.05
_writer: BatchWriter | None = None
_PID = os.getpid()  # which worker wrote a line, when WORKERS > 1 (each worker imports this module afresh)
ACCESS_LOGGER = "dlserve.access"
_access = logging.getLogger(ACCESS_LOGGER)


@dataclass(slots=True)
class AccessEntry:
    created: float
    message: str
    fields: dict[str, Any]

    def record(self) -> logging.LogRecord:
        record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, "", 0, self.message, None, None)
        record.created, record.msecs = self.created, (self.created % 1) * 1000
        record.__dict__.update(self.fields)
        return record


def _json_line(entry: AccessEntry) -> str:
    """What JsonFormatter makes of the same record, without building one."""
    time_text = datetime.fromtimestamp(entry.created, UTC).isoformat(timespec="milliseconds")
    line = {"time": time_text, "level": "info", "logger": ACCESS_LOGGER, "pid": _PID, "message": entry.message,
            **entry.fields}  # fmt: skip
    return orjson.dumps(line, default=str).decode()


def log_access(message: str, fields: dict[str, Any]) -> None:
    """Log one request line (when the access logger's level lets INFO through)."""
    if not _access.isEnabledFor(logging.INFO):
        return
    if _writer is None:  # logging not configured by the service (a library user, a test): the plain way
        _access.info(message, extra=fields)
        return
    _writer.records.put(AccessEntry(time.time(), message, fields))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": _PID,  # not record.process: logProcesses is off (a syscall per record)
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:  # rendered already, before the record crossed the queue
            entry["traceback"] = record.exc_text
        return orjson.dumps(entry, default=str).decode()


class _ServiceQueueHandler(QueueHandler):
    """Marks the handler we install (configuring again replaces it and leaves others, pytest's, alone).

    Unlike the stock QueueHandler it keeps the record's `extra` fields for the JSON formatter; it
    resolves only what cannot cross a thread safely: the arguments into the message, and a live
    traceback into text (on a copy, so other handlers of the same record still see the original).
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if record.exc_info:  # other handlers may still want the live traceback: change a copy
            record = copy.copy(record)
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
            record.exc_info = None
        record.msg, record.args = record.getMessage(), None  # the same text for every handler
        return record


class BatchWriter:
    """A thread that formats and writes every queued record each FLUSH_INTERVAL_S, in one write."""

    def __init__(
        self, records: queue.SimpleQueue[logging.LogRecord | AccessEntry], handler: logging.StreamHandler
    ) -> None:
        self.records, self.handler = records, handler
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(FLUSH_INTERVAL_S):
            self.flush()
        self.flush()

    def flush(self) -> None:
        lines = []
        while True:
            try:
                record = self.records.get_nowait()
            except queue.Empty:
                break
            try:
                lines.append(self._render(record))
            except Exception:  # one unprintable record must not stop the log
                self.handler.handleError(record if isinstance(record, logging.LogRecord) else record.record())
        if lines:
            try:
                self.handler.stream.write("\n".join(lines) + "\n")
                self.handler.flush()
            except (OSError, ValueError):  # the stream is gone (closed at exit, a broken pipe): nowhere to write
                pass

    def _render(self, item: logging.LogRecord | AccessEntry) -> str:
        if isinstance(item, logging.LogRecord):
            return self.handler.format(item)
        if isinstance(self.handler.formatter, JsonFormatter):
            return _json_line(item)
        return self.handler.format(item.record())

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)


def _stop_writer() -> None:
    global _writer
    if _writer is not None:
        _writer.stop()  # writes whatever is still queued
        _writer = None


def configure_logging(level: str, fmt: str, stream: TextIO | None = None) -> None:
    """Route our loggers (and uvicorn's) through one queued handler in the chosen format, to stderr by default."""
    global _writer
    _stop_writer()
    writer = logging.StreamHandler(stream)
    writer.setFormatter(
        JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    # The logging HOWTO's "Optimization": skip what a record would otherwise look up each time
    # (the caller's frame, thread, process) and that no line of ours prints.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    records: queue.SimpleQueue[logging.LogRecord | AccessEntry] = queue.SimpleQueue()
    _writer = BatchWriter(records, writer)
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h, _ServiceQueueHandler)] + [
        _ServiceQueueHandler(records)
    ]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
        logging.getLogger(name).setLevel(level.upper())  # uvicorn's own config would keep them at info
    # uvicorn's own access log would duplicate our request lines.
    logging.getLogger("uvicorn.access").disabled = True


atexit.register(_stop_writer)
