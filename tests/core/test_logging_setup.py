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


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_an_access_line_reads_exactly_like_the_same_record_logged_the_plain_way(stderr, fmt):
    logging_setup.configure_logging("info", fmt, stderr)
    fields = {"request_id": "r1", "method": "GET", "path": "/x", "status": 200, "duration_ms": 1.5, "model": None}
    logging.getLogger("dlserve.access").info("GET /x 200 1.5 ms", extra=fields)
    logging_setup.log_access("GET /x 200 1.5 ms", fields)
    logging_setup._stop_writer()
    plain, fast = stderr.getvalue().splitlines()
    if fmt == "json":
        plain, fast = json.loads(plain), json.loads(fast)
        assert plain.pop("time")[:19] == fast.pop("time")[:19]  # the same second
    else:
        plain, fast = plain.split(" ", 2)[2], fast.split(" ", 2)[2]  # after the date and time
    assert fast == plain


def test_access_lines_follow_the_access_loggers_level(stderr):
    logging_setup.configure_logging("warning", "json", stderr)
    logging_setup.log_access("GET /x 200 1.5 ms", {"status": 200})
    logging_setup._stop_writer()
    assert stderr.getvalue() == ""
