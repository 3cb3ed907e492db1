"""The served fake's log: the line per request written directly, other lines through
`logging`, both in one layout and in order; in process, request lines are records."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Iterator

import gevent
import pytest

from mock_server.engine.faults import Fault
from mock_server.web import logs
from mock_server.web.exchanges import log_request

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
TASK = "6513270e-269e-4d37-b2a7-4de452e6b438"


class ServedLog:
    """The served fake's logging, configured into a buffer."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def configure(self, log_format: str) -> None:
        logs.configure_logging(log_format, stream=self.buffer, level="info")

    def lines(self) -> list[str]:
        logs.flush_logs()
        return self.buffer.getvalue().splitlines()


@pytest.fixture
def served_log() -> Iterator[ServedLog]:
    """A `ServedLog`; the global state `configure_logging` sets is restored after."""
    root = logging.getLogger("luma_mock")
    handlers, level, propagate = root.handlers[:], root.level, root.propagate
    lookups = (logging._srcfile, logging.logThreads, logging.logProcesses)  # type: ignore[attr-defined]
    multiprocessing, request_lines = logging.logMultiprocessing, logs.request_lines
    try:
        yield ServedLog()
    finally:
        root.handlers[:], root.level, root.propagate = handlers, level, propagate
        logging._srcfile, logging.logThreads, logging.logProcesses = lookups  # type: ignore[attr-defined]
        logging.logMultiprocessing, logs.request_lines = multiprocessing, request_lines


def test_text_lines_share_logging_layout_and_keep_their_order(served_log: ServedLog) -> None:
    served_log.configure("text")
    log_request("POST", "/luma/videos", 200, TASK, time.perf_counter(), None)
    logging.getLogger("luma_mock.callbacks").warning("callback task=%s attempt=1 -> refused", TASK)
    log_request("POST", "/luma/tasks", 200, None, time.perf_counter(), Fault("reset"))
    assert served_log.buffer.getvalue() == ""  # gathered until the burst is over
    first, warning, faulted = served_log.lines()
    assert re.fullmatch(rf"{STAMP} INFO POST /luma/videos 200 task={TASK} \d+\.\dms", first)
    assert re.fullmatch(rf"{STAMP} WARNING callback task={TASK} attempt=1 -> refused", warning)
    assert re.fullmatch(rf"{STAMP} INFO POST /luma/tasks 200 task=- \d+\.\dms fault=reset", faulted)


def test_json_lines_carry_the_request_fields(served_log: ServedLog) -> None:
    served_log.configure("json")
    log_request("POST", "/luma/videos", 401, None, time.perf_counter(), None)
    logging.getLogger("luma_mock.scheduler").error("scheduled event failed")
    request, error = (json.loads(line) for line in served_log.lines())
    assert set(request) == {"time", "level", "logger", "method", "path", "status", "task_id",
                            "duration_ms"}  # fmt: skip
    assert (request["level"], request["logger"], request["status"]) == (
        "info",
        "luma_mock.requests",
        401,
    )
    assert abs(request["time"] - time.time()) < 60
    assert error == {**error, "level": "error", "message": "scheduled event failed"}


def test_a_full_burst_is_written_without_waiting(served_log: ServedLog) -> None:
    served_log.configure("text")
    for _ in range(logs.BurstFlushingHandler.MAX_PENDING):
        log_request("POST", "/luma/tasks", 200, TASK, time.perf_counter(), None)
    assert served_log.buffer.getvalue().count("\n") == logs.BurstFlushingHandler.MAX_PENDING


def test_in_process_request_lines_are_logging_records(caplog: pytest.LogCaptureFixture) -> None:
    assert logs.request_lines is None
    with caplog.at_level(logging.INFO, logger="luma_mock.requests"):
        log_request("POST", "/luma/videos", 200, TASK, time.perf_counter(), Fault("hang"))
    (record,) = caplog.records
    assert record.name == "luma_mock.requests"
    assert record.getMessage().startswith(f"POST /luma/videos 200 task={TASK} ")
    assert record.fields["fault"] == "hang"  # type: ignore[attr-defined]


def test_a_burst_is_written_as_soon_as_the_hub_runs(served_log: ServedLog) -> None:
    served_log.configure("text")
    log_request("POST", "/luma/tasks", 200, TASK, time.perf_counter(), None)
    log_request("POST", "/luma/tasks", 404, TASK, time.perf_counter(), None)
    gevent.sleep(0)  # the burst is over: the hub runs its callbacks
    assert served_log.buffer.getvalue().count("\n") == 2
