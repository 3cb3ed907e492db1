"""What the checks remember across a run. `TaskHistory` keeps every record seen of
each task and the finished result with where it came from; `CheckContext` carries that
history with the rest a run shares: how to fetch a media URL, whether the target takes
any token, and the tally of runs and failures per check.

The checks that need the past (states only move forward, timestamps are set once, a
result is the same wherever it is seen) read it from here, and `run_checks` adds each
exchange after the checks have seen it, as the case's dialect reads it (its
``answers`` module's `observe`); the consumer suite keeps its own context of the same
type. Keeping the memory apart from the checks keeps each check a plain function.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .dialects import answers_of
from .exchanges import Answer, Case


@dataclass
class TaskHistory:
    """Everything seen of each task so far: its records in order, and the finished
    result (from the synchronous answer, the callback or a record) with its source."""

    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    results: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)  # ids a delete was answered for

    def last(self, task_id: str) -> dict[str, Any] | None:
        seen = self.records.get(task_id)
        return seen[-1] if seen else None

    def remember_result(self, task_id: str, source: str, result: dict[str, Any]) -> None:
        self.results.setdefault(task_id, (source, result))

    def observe(self, case: Case, answer: Answer) -> None:
        """Add one exchange, as its dialect reads it (`dialects.Answers.observe`)."""
        answers_of(case.dialect).observe(self, case, answer)

    def add(self, task_id: str, record: dict[str, Any]) -> None:
        """One more record seen of a task."""
        self.records.setdefault(task_id, []).append(record)


@dataclass
class CheckContext:
    """What the checks share across a run: the history of tasks, how to fetch a media
    URL (None: media is not checked), whether the target takes any token, and a tally
    of runs and failures per check."""

    history: TaskHistory = field(default_factory=TaskHistory)
    fetch: Callable[[str], Answer] | None = None
    any_token: bool = False
    runs: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    media_seen: dict[str, tuple[int, int] | str] = field(default_factory=dict)
    nonces: dict[str, str] = field(default_factory=dict)  # x402 nonces paid with, and where

    def media_size(
        self, url: str, read: Callable[[bytes], tuple[int, int]]
    ) -> tuple[int, int] | str:
        """The pixel size ``read`` (`media_probe`) finds at ``url``, or why there is none;
        each URL is fetched once a run."""
        if url not in self.media_seen:
            assert self.fetch is not None, "media is checked only with a fetch"
            answer = self.fetch(url)
            try:
                found = read(answer.content) if answer.status == 200 else f"HTTP {answer.status}"
            except ValueError as bad:
                found = str(bad)
            self.media_seen[url] = found
        return self.media_seen[url]
