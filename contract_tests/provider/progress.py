"""What a verification shows and keeps while it runs: a progress line on stderr
(`Progress`) and every exchange as JSON lines (`Recorder`, ``--record``; the token shown
as ``$LUMA_TOKEN``). Only the standard library: `report` imports `TOKEN_VAR` from here
while ``luma-mock serve`` builds its parser.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..checks import Answer, Case
    from .outcome import Budget

TOKEN_VAR = "$LUMA_TOKEN"


class Recorder:
    """Every request and answer of a run, as JSON lines (the token shown as
    ``$LUMA_TOKEN``), written as they happen when a file is given."""

    BODY_LIMIT = 65_536

    def __init__(self, path: str | None = None, token: str = "") -> None:
        self.count = 0
        self._token = token
        self._file: IO[str] | None = open(path, "w", encoding="utf-8") if path else None  # noqa: SIM115

    def add(
        self, phase: str, case: Case, url: str, headers: Mapping[str, str], answer: Answer
    ) -> None:
        self.count += 1
        if self._file is None:
            return
        line = {
            "seq": self.count,
            "phase": phase,
            "label": case.label,
            "method": case.method,
            "url": url,
            "request_headers": {k: self._redact(v) for k, v in headers.items()},
            "request_body": _body_text(case.payload(), "application/json"),
            "status": answer.status,
            "response_headers": dict(answer.headers),
            "response_body": _body_text(answer.content, answer.content_type),
            "seconds": round(answer.elapsed, 6),
        }
        self._file.write(json.dumps(line, ensure_ascii=False) + "\n")
        self._file.flush()

    def _redact(self, value: str) -> str:
        return value.replace(self._token, TOKEN_VAR) if self._token else value

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _body_text(content: bytes | None, kind: str) -> Any:
    if content is None:
        return None
    if not kind.endswith("json") and kind:
        return f"<{len(content)} bytes {kind}>"
    return content[: Recorder.BODY_LIMIT].decode("utf-8", "replace")


class Progress:
    """One line on stderr: examples done of planned, billable spent of cap, failures."""

    def __init__(self, out: IO[str] | None, budget: Budget) -> None:
        self.out, self.budget = out, budget
        self.planned = self.done = self.failed = 0
        self._shown = 0.0
        self._tty = bool(out is not None and getattr(out, "isatty", lambda: False)())

    def step(self, phase: str, force: bool = False) -> None:
        self.done += 1
        now = time.monotonic()
        if self.out is None or (not force and now - self._shown < 0.2) or not self._tty:
            return
        self._shown = now
        self.out.write("\r" + self.line(phase) + "   ")
        self.out.flush()

    def line(self, phase: str) -> str:
        return (
            f"{phase:<10} examples {self.done}/{self.planned} · "
            f"billable {self.budget.spent}/{self.budget.cap} · failures {self.failed}"
        )

    def phase_done(self, phase: str) -> None:
        if self.out is not None:
            self.out.write(("\r" if self._tty else "") + self.line(phase) + "\n")
            self.out.flush()
