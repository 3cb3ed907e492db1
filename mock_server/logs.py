"""The served fake's log: one line per request (text or JSON), never a token.

Under load that is thousands of lines a second, so writing them must stay cheap: lines go
into the stream's buffer and are flushed once the current burst of work is done (when
the gevent hub next runs its callbacks) rather than with a system call each; the text
format's timestamp is formatted once a second.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

import gevent


class JsonLogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        entry.update(getattr(record, "fields", None) or {"message": record.getMessage()})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class TextLogFormatter(logging.Formatter):
    """``2026-12-02 04:11:06,123 INFO POST /luma/tasks 200 …``: logging's own layout."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s")
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime(self.default_time_format, self.converter(second))
        return self.default_msec_format % (self._stamp, record.msecs)


class BurstFlushingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that flushes once per burst of lines instead of once a line."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._flush_due = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)
            return
        if not self._flush_due:
            self._flush_due = True
            gevent.get_hub().loop.run_callback(self._flush_now)

    def _flush_now(self) -> None:
        self._flush_due = False
        self.flush()


def configure_logging(log_format: str, stream: TextIO = sys.stdout, level: str = "info") -> None:
    """The served fake's logging (the process is the fake's own): none of the lines
    shows the caller's source line, thread or process, so logging is told not to look
    them up — the optimizations the logging HOWTO lists, ~half the cost of a line."""
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = BurstFlushingHandler(stream)
    handler.setFormatter(JsonLogFormatter() if log_format == "json" else TextLogFormatter())
    root = logging.getLogger("luma_mock")
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper()))
    root.propagate = False
