"""What the checks remember across a run. `TaskHistory` keeps every record seen of
each task and the finished result with where it came from; `CheckContext` carries that
history with the rest a run shares: how to fetch a media URL, whether the target takes
any token, and the tally of runs and failures per check.

The checks that need the past (states only move forward, timestamps are set once, a
result is the same wherever it is seen) read it from here, and `run_checks` adds each
exchange after the checks have seen it; the consumer suite keeps its own context of the
same type. Keeping the memory apart from the checks keeps each check a plain function.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .exchanges import Answer, Case

STATE_ORDER = {"pending": 0, "processing": 1, "completed": 2, "failed": 2}
SET_ONCE = ("created_at", "started_at", "finished_at", "elapsed")


def record_state(record: Mapping[str, Any]) -> str:
    """The state a task record shows: its response's ``state``, ``failed`` for an
    error envelope, ``pending`` with no response yet."""
    response = record.get("response")
    if not isinstance(response, Mapping):
        return "pending"
    if response.get("success") is False or "error" in response:
        return "failed"
    return str(response.get("state", "pending"))


@dataclass
class TaskHistory:
    """Everything seen of each task so far: its records in order, and the finished
    result (from the synchronous answer, the callback or a record) with its source."""

    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    results: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)  # Dream Machine: answered 204 to a delete

    def last(self, task_id: str) -> dict[str, Any] | None:
        seen = self.records.get(task_id)
        return seen[-1] if seen else None

    def remember_result(self, task_id: str, source: str, result: dict[str, Any]) -> None:
        self.results.setdefault(task_id, (source, result))

    def observe(self, case: Case, answer: Answer) -> None:
        if case.dialect == "dream-machine":
            self.observe_generation(case, answer)
            return
        body = answer.json_or_none()
        if not isinstance(body, dict):
            return
        if case.operation == "videos" and answer.status == 200 and body.get("success") is True:
            self.remember_result(str(body.get("task_id")), "the synchronous answer", body)
        elif case.operation == "callback" and case.task_id:
            self.remember_result(case.task_id, "the callback", body)
        elif case.operation == "tasks" and answer.status == 200:
            for record in task_records(case, body):
                task_id = str(record.get("id"))
                self.records.setdefault(task_id, []).append(record)
                response = record.get("response")
                if record_state(record) in ("completed", "failed") and isinstance(response, dict):
                    self.remember_result(task_id, "an earlier retrieve", response)

    def observe_generation(self, case: Case, answer: Answer) -> None:
        """A Dream Machine exchange: a Generation from a create, a get, an upscale or
        audio, or each of a list page, is one record of its id; a 204 to a delete
        marks the id deleted. Callbacks are not records: they arrive when the receiver
        is read, possibly after a later get (the checks of callbacks read them apart)."""
        if case.operation == "delete" and answer.status == 204 and case.task_id:
            self.deleted.add(case.task_id)
            return
        if case.operation == "callback" or not 200 <= answer.status < 300:
            return
        body = answer.json_or_none()
        if case.operation == "list" and isinstance(body, dict):
            found = body.get("generations")
            seen = [g for g in found if isinstance(g, dict)] if isinstance(found, list) else []
        else:
            seen = [body] if isinstance(body, dict) else []
        for generation in seen:
            if not isinstance(generation.get("id"), str):
                continue
            self.records.setdefault(generation["id"], []).append(generation)
            if generation.get("state") in ("completed", "failed"):
                self.remember_result(generation["id"], f"an earlier {case.operation}", generation)


def task_records(case: Case, body: Any) -> list[dict[str, Any]]:
    """The task records in a /luma/tasks answer (one, or a batch's items)."""
    if not isinstance(body, dict):
        return []
    if case.action == "retrieve_batch":
        items = body.get("items")
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    return [body] if "id" in body else []


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
