"""What the dashboard shows, as plain data: a task's row and detail, a journal entry's
summary, and the live stream of changes (server-sent events) fed by the engine's change
notices (`engine.changes`) — no poll of the whole state.

The stream coalesces: a listener keeps at most one pending notice per thing that changed,
and past `MAX_PENDING` distinct ones it tells the page to refresh what it shows instead
(10,000 tasks created in a burst are one "refresh", not 10,000 rows pushed).
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from ..engine.changes import CALLBACK, CLOCK, CLOSED, JOURNAL, RESET, RULES, TASK, Change
from ..engine.journal import JournalEntry
from ..engine.service import Engine
from ..engine.tasks import Task

MAX_PENDING = 200  # distinct changes a listener keeps before asking for a refresh
HEARTBEAT = 15.0  # real seconds between keep-alive comments (finds a gone client)
STARTED = ":started"  # the key suffix of a callback sent when a task leaves the queue


def _time(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def prompt_of(engine: Engine, task: Task) -> str | None:
    """The task's prompt, as its dialect reads it (the rules' ``prompt_contains`` text)."""
    text = engine.dialect.describe("", task.request)[1]
    return text if isinstance(text, str) else None


def _attempts(engine: Engine, task_id: str) -> list[dict[str, Any]]:
    marks = []
    for key in (task_id + STARTED, task_id):
        delivery = engine.callbacks.get(key)
        if delivery is not None:
            marks += [a.as_dict() for a in delivery.attempts]
    return sorted(marks, key=lambda a: a["at"])


def task_row(engine: Engine, task: Task) -> dict[str, Any]:
    """One row of the tasks table (and one bar of the timeline)."""
    delivery = engine.callbacks.get(task.id)
    return {
        "id": task.id,
        "dialect": engine.dialect.name,
        "action": task.action,
        "prompt": prompt_of(engine, task),
        "state": task.state.value,
        "created_at": task.created_at,
        "starts_at": _time(task.starts_at),
        "ends_at": _time(task.ends_at),
        "started_at": task.started_at,
        "finished_at": task.finished_at,
        "error": None if task.error is None else task.error.code,
        "callback": None
        if task.callback_url is None
        else {
            "state": delivery.state if delivery is not None else "waiting",
            "attempts": _attempts(engine, task.id),
        },
    }


def _newest_first(engine: Engine) -> Iterator[tuple[Engine, Task]]:
    for task in reversed(list(engine.store)):
        yield engine, task


def page_of_tasks(
    engines: Sequence[Engine], offset: int, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    """How many tasks there are, and the rows of ``limit`` of them from ``offset``,
    newest first across the engines (each store keeps its tasks in creation order)."""
    total = sum(len(e.store) for e in engines)
    newest_first = [_newest_first(engine) for engine in engines]
    merged = heapq.merge(*newest_first, key=lambda pair: pair[1].created_at, reverse=True)
    return total, [task_row(e, t) for e, t in itertools.islice(merged, offset, offset + limit)]


def owner(engines: Sequence[Engine], task_id: str) -> tuple[Engine, Task] | None:
    for engine in engines:
        task = engine.store.get(task_id)
        if task is not None:
            return engine, task
    return None


def media(engine: Engine, task: Task) -> list[dict[str, str]]:
    """A completed task's media, by the dialect's routes (relative URLs: same origin)."""
    if task.state.value != "completed":
        return []
    found = []
    for rule, kind in engine.dialect.media_routes.items():
        mimetype = engine.dialect.media_file(task, kind)[1]
        found.append({"kind": kind, "url": rule.replace("<task_id>", task.id), "type": mimetype})
    return found


def task_detail(engine: Engine, task: Task) -> dict[str, Any]:
    """The record, the request and the answer, each callback's delivery log, the media."""
    # The first request that names the task made it (later ones fetched it or its media).
    created = next(iter(engine.journal.entries(kind="request", task_id=task.id)), None)
    deliveries = [engine.callbacks.get(task.id + STARTED), engine.callbacks.get(task.id)]
    return {
        "row": task_row(engine, task),
        "record": engine.record(task),
        "request": task.request,
        "answer": created.answer if created is not None else None,
        "callbacks": [d.as_dict() for d in deliveries if d is not None],
        "media": media(engine, task),
    }


def entry_summary(entry: JournalEntry) -> dict[str, Any]:
    """A journal entry's row: no headers or bodies (those are one click away)."""
    verdict = entry.verdict or {}
    return {
        "seq": entry.seq,
        "kind": entry.kind,
        "at": entry.at,
        "method": entry.method,
        "path": entry.path,
        "status": entry.status,
        "duration_ms": None if entry.duration_ms is None else round(entry.duration_ms, 3),
        "task_id": entry.task_id,
        "rule": entry.rule,
        "fault": entry.fault,
        "attempt": entry.attempt,
        "error": entry.error,
        "verdict": None
        if entry.verdict is None
        else {"ok": verdict.get("ok"), "unknown_fields": list(verdict.get("unknown_fields", ()))},
        "payment": entry.payment,  # a paid call's (``--x402``): small, and the row shows it
    }


class Listener:
    """A subscriber to the engine's notices: keeps them, coalesced, until the stream
    takes them. Called on the publisher's thread, so it only records and wakes."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, Any, str | None], Change] = {}
        self._overflow = False
        self._lock = threading.Lock()
        self._ready = threading.Event()

    def __call__(self, change: Change) -> None:
        key = (change.kind, change.key, change.dialect)
        with self._lock:
            if change.kind in (RESET, CLOSED):
                self._pending.clear()  # whatever came before is moot now
                self._overflow = False
            if len(self._pending) >= MAX_PENDING and key not in self._pending:
                self._overflow = True
            else:
                self._pending[key] = change
        self._ready.set()

    def take(self, timeout: float) -> tuple[list[Change], bool] | None:
        """What changed since the last take, and whether some was dropped; None when
        nothing did within ``timeout``."""
        if not self._ready.wait(timeout):
            return None
        with self._lock:
            self._ready.clear()
            changes, overflow = list(self._pending.values()), self._overflow
            self._pending.clear()
            self._overflow = False
        return changes, overflow


def event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def _render(engines: Sequence[Engine], change: Change) -> str | None:
    first = engines[0]
    if change.kind in (TASK, CALLBACK):
        task_id = str(change.key).removesuffix(STARTED)
        found = owner(engines, task_id)
        return None if found is None else event("task", task_row(*found))
    if change.kind == JOURNAL:
        entry = first.journal.by_seq(int(change.key))
        return None if entry is None else event("journal", entry_summary(entry))
    if change.kind == CLOCK:
        return event("clock", {"now": change.key, "manual": first.scheduler.manual})
    if change.kind == RULES:
        return event("rules", {})
    if change.kind == RESET:
        return event("reset", {"now": first.clock.now()})
    return None


def stream(engines: Sequence[Engine], heartbeat: float = HEARTBEAT) -> Iterator[bytes]:
    """The server-sent events of ``engines`` (the app's first): ``hello`` with the clock,
    then ``task``, ``journal``, ``clock``, ``rules``, ``reset`` and ``refresh`` events as
    things change, until the fake closes (``closed``) or the client goes away."""
    first = engines[0]
    listener = Listener()
    unsubscribe = first.changes.subscribe(listener)
    try:
        hello = {"now": first.clock.now(), "manual": first.scheduler.manual}
        yield (f"retry: 2000\n\n{event('hello', hello)}").encode()
        while True:
            taken = listener.take(heartbeat)
            if taken is None:
                yield b": keep-alive\n\n"
                continue
            changes, overflow = taken
            if any(c.kind == CLOSED for c in changes):
                yield event("closed", {}).encode()
                return
            if overflow:
                yield event("refresh", {"now": first.clock.now()}).encode()
                continue
            pieces = [_render(engines, change) for change in changes]
            text = "".join(p for p in pieces if p is not None)
            if text:
                yield text.encode()
    finally:
        unsubscribe()
