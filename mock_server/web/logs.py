"""The served fake's log: one line per request (text or JSON), never a token.

Under load that is thousands of lines a second, so writing them must stay cheap:

- lines are gathered and written together once the current burst of work is done (when
  the gevent hub next runs its callbacks): one system call for many lines, even when the
  stream itself is unbuffered (PYTHONUNBUFFERED);
- the line per request skips `logging`'s record machinery (~15 µs a line measured, as
  much as the request itself): `RequestLines` formats it in the same layout as the
  formatters below and hands it to the same handler. Everything else — warnings,
  callback attempts, errors — goes through `logging` as usual. In process (no
  `configure_logging`), request lines are plain `logging` records too.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO


def _stamper() -> Any:
    """``time`` -> ``2026-12-02 04:11:06,123`` (logging's asctime), the part before the
    milliseconds formatted once a second."""
    cached = [-1, ""]
    formatter = logging.Formatter()

    def stamp(now: float) -> str:
        second = int(now)
        if second != cached[0]:
            cached[:] = [second, time.strftime(formatter.default_time_format, time.localtime(now))]
        return formatter.default_msec_format % (cached[1], (now - second) * 1000)

    return stamp


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
    """``2026-12-02 04:11:06,123 WARNING …``: logging's own layout."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s")
        self._stamp = _stamper()

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return self._stamp(record.created)


class BurstFlushingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes once per burst of lines instead of once a line."""

    MAX_PENDING = 512  # lines held at most before they are written anyway

    def __init__(self, stream: TextIO) -> None:
        import gevent  # only the served fake, which runs under gevent, logs this way

        super().__init__(stream)
        self._pending: list[str] = []
        self._loop = gevent.get_hub().loop

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.add(line)

    def add(self, line: str) -> None:
        """Queue one formatted line (without its newline)."""
        self._pending.append(line)
        if len(self._pending) == 1:
            self._loop.run_callback(self.flush)
        elif len(self._pending) >= self.MAX_PENDING:
            self.flush()

    def flush(self) -> None:
        lines, self._pending = self._pending, []
        if lines:
            try:
                self.stream.write("\n".join(lines) + "\n")
            except Exception:  # a closed or broken stream: logging's own fallback
                self.handleError(logging.makeLogRecord({"msg": lines[0]}))
        super().flush()


def request_fields(
    method: str, path: str, status: int, task_id: str | None, duration_ms: float, fault: str | None
) -> dict[str, Any]:
    """What the JSON log says of one request."""
    fields: dict[str, Any] = {
        "method": method,
        "path": path,
        "status": status,
        "task_id": task_id,
        "duration_ms": round(duration_ms, 2),
    }
    if fault is not None:
        fields["fault"] = fault
    return fields


def request_message(
    method: str, path: str, status: int, task_id: str | None, duration_ms: float, fault: str | None
) -> str:
    """What the text log says of one request."""
    faulted = f" fault={fault}" if fault is not None else ""
    return f"{method} {path} {status} task={task_id or '-'} {duration_ms:.1f}ms{faulted}"


class RequestLines:
    """The served fake's line per request, straight into its handler."""

    def __init__(self, handler: BurstFlushingHandler, log_format: str) -> None:
        self.handler = handler
        self.json = log_format == "json"
        self._stamp = _stamper()

    def write(self, *request: Any) -> None:
        """One request's line; ``request`` as `request_fields` takes it."""
        now = time.time()
        if self.json:
            head = {"time": round(now, 3), "level": "info", "logger": REQUESTS.name}
            self.handler.add(json.dumps({**head, **request_fields(*request)}))
        else:
            self.handler.add(f"{self._stamp(now)} INFO {request_message(*request)}")


REQUESTS = logging.getLogger("luma_mock.requests")


def log_request(
    method: str, path: str, status: int, task_id: str | None, duration_ms: float, fault: str | None
) -> None:
    """One line per request, and never the token: the direct way when served, else a
    `logging` record (with the fields the JSON format emits)."""
    request = (method, path, status, task_id, duration_ms, fault)
    if request_lines is not None:
        request_lines.write(*request)
    else:
        REQUESTS.info(request_message(*request), extra={"fields": request_fields(*request)})


#: Set by `configure_logging` for the served fake; None in process.
request_lines: RequestLines | None = None


def configure_logging(log_format: str, stream: TextIO = sys.stdout, level: str = "info") -> None:
    """The served fake's logging (the process is the fake's own): none of the lines
    shows the caller's source line, thread or process, so logging is told not to look
    them up — the optimizations the logging HOWTO lists."""
    global request_lines
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
    request_lines = RequestLines(handler, log_format)


def flush_logs() -> None:
    """Write what the fake's log still holds (before a line printed outside it)."""
    for handler in logging.getLogger("luma_mock").handlers:
        handler.flush()
