"""The served fake's log: one line per request (text or JSON), never a token.

Under load that is thousands of lines a second, so writing them must stay cheap: lines
are gathered and written together once the current burst of work is done (when the
gevent hub next runs its callbacks), one system call for many lines even when the stream
itself is unbuffered (PYTHONUNBUFFERED); the text format's timestamp is formatted once a
second.
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
    """A stream handler that writes once per burst of lines instead of once a line."""

    MAX_PENDING = 512  # lines held at most before they are written anyway

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._pending: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._pending.append(line)
        if len(self._pending) == 1:
            gevent.get_hub().loop.run_callback(self.flush)
        elif len(self._pending) >= self.MAX_PENDING:
            self.flush()

    def flush(self) -> None:
        lines, self._pending = self._pending, []
        if lines:
            try:
                self.stream.write("".join(lines))
            except Exception:  # a closed or broken stream: logging's own fallback
                self.handleError(logging.makeLogRecord({"msg": lines[0].rstrip()}))
        super().flush()


def flush_logs() -> None:
    """Write what the fake's log still holds (before a line printed outside it)."""
    for handler in logging.getLogger("luma_mock").handlers:
        handler.flush()


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
