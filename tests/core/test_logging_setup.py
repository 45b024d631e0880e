"""Logging: JSON lines written in batches off the event loop, nothing lost, tracebacks kept."""

import io
import json
import logging

import pytest

from app.core import logging_setup


@pytest.fixture
def stderr():
    """What the service's log handler writes, captured; the handler is removed after."""
    stream = io.StringIO()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield stream
    logging_setup._stop_writer()
    root.handlers, root.level = handlers, level


def test_records_become_json_lines_with_their_extras_after_a_flush(stderr):
    logging_setup.configure_logging("info", "json", stderr)
    logging.getLogger("dlserve.access").info("%s %s", "GET", "/health/live", extra={"status": 200, "model": None})
    logging.getLogger("dlserve").debug("below the level")
    logging_setup._stop_writer()  # what happens at exit: the queue is drained
    [line] = stderr.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["message"] == "GET /health/live" and entry["level"] == "info" and entry["logger"] == "dlserve.access"
    assert entry["status"] == 200 and entry["model"] is None
    assert entry["time"].endswith("+00:00")


def test_a_traceback_crosses_the_queue_and_other_handlers_still_see_it(stderr):
    logging_setup.configure_logging("info", "json", stderr)
    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.exc_info)

    logging.getLogger().addHandler(Keep())
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("dlserve").exception("unhandled error on %s", "/x")
    logging_setup._stop_writer()
    entry = json.loads(stderr.getvalue().splitlines()[0])
    assert entry["message"] == "unhandled error on /x"
    assert "ValueError: boom" in entry["traceback"]
    assert seen[0][0] is ValueError  # the live exception, untouched for the other handler


def test_many_records_are_written_in_few_writes(stderr):
    logging_setup.configure_logging("info", "text", stderr)
    writes = []
    real_write = stderr.write
    stderr.write = lambda text: writes.append(text) or real_write(text)
    for i in range(500):
        logging.getLogger("dlserve").info("line %d", i)
    logging_setup._stop_writer()
    lines = stderr.getvalue().splitlines()
    assert len(lines) == 500 and lines[-1].endswith("INFO dlserve: line 499")
    assert len(writes) < 50  # batched: not one write (and one GIL hand-over) per record
