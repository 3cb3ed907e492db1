"""The journal: every request the fake received and every callback it attempted, in
order, bounded, queryable with filters, and waitable — so a test asks "has my client
sent this yet?" instead of sleeping."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .changes import JOURNAL, Changes

_perf_counter = time.perf_counter  # looked up once: every answered request reads it

SECRET_HEADERS = ("authorization", "cookie", "x-api-key", "x-luma-mock-control-token")
FILTER_KEYS = (
    "kind",
    "method",
    "path",
    "status",
    "task_id",
    "rule",
    "fault",
    "since",  # only entries after this seq
    "answered",  # true: answered requests only; false: those still held
    "with_task",  # true: only entries that have a task id (a held call's, once it exists)
)


def redact(value: str) -> str:
    """Keep the scheme and the last four characters, enough to tell tokens apart."""
    scheme, _, secret = value.partition(" ")
    if not secret:
        scheme, secret = "", scheme
    hint = f"…{secret[-4:]}" if len(secret) > 8 else "…"
    return f"{scheme} {hint}".strip()


def is_secret(name: str) -> bool:
    lowered = name.lower()
    return lowered in SECRET_HEADERS or "token" in lowered


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: redact(value) if is_secret(name) else value for name, value in headers.items()}


@dataclass(slots=True)
class JournalEntry:
    kind: str  # "request" or "callback"
    at: float  # on the fake's clock
    method: str = "POST"
    path: str = ""
    query: str | None = None  # the query string, if the request had one
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    verdict: dict[str, Any] | None = None  # the schema's verdict on a request body
    status: int | None = None
    answer: Any = None
    task_id: str | None = None
    rule: str | None = None  # the scenario rule that decided it
    fault: str | None = None
    url: str | None = None  # callbacks: the target
    attempt: int | None = None
    error: str | None = None
    duration_ms: float | None = None  # real time from arrival to answer (or the attempt's)
    # A request's arrival on the wall clock (comparable across the fake's processes, as
    # `received` is not): what a client's pacing between retries is read from.
    arrived: float | None = None
    answer_headers: dict[str, str] | None = None  # those the answer added (Retry-After...)
    # A paid call's payment (``--x402``): payer, network, amount, nonce, outcome, task.
    payment: dict[str, Any] | None = None
    seq: int = 0
    received: float = field(default=0.0, repr=False)  # perf_counter() on arrival, if known

    def as_dict(self) -> dict[str, Any]:
        # Shallow on purpose: bodies are kept as they came, and asdict() would deep-copy
        # them (slow for large ones, and recursive).
        return {name: value for name in _SHOWN if (value := getattr(self, name)) is not None}

    def matches(self, filters: Mapping[str, Any]) -> bool:
        for key, wanted in filters.items():
            if wanted is None:
                continue
            if key == "since":
                if self.seq <= int(wanted):
                    return False
            elif key == "status":
                if self.status != int(wanted):
                    return False
            elif key == "answered":
                if (self.status is not None) != _truth(wanted):
                    return False
            elif key == "with_task":
                if (self.task_id is not None) != _truth(wanted):
                    return False
            elif getattr(self, key) != wanted:
                return False
        return True


_SHOWN = tuple(f.name for f in fields(JournalEntry) if f.name != "received")


def _truth(value: Any) -> bool:
    """Booleans from JSON or from a query string."""
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def check_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise ValueError(f"unknown journal filter(s): {', '.join(sorted(unknown))}")
    return {k: v for k, v in filters.items() if v is not None}


class Journal:
    def __init__(self, limit: int = 10_000) -> None:
        self._entries: deque[JournalEntry] = deque(maxlen=limit)
        self._seq = itertools.count(1)
        self._changed = threading.Condition()
        # Every record and update, newest last, so a waiter looks only at what changed
        # since it last looked instead of the whole journal on every request.
        self._changes: deque[JournalEntry] = deque(maxlen=limit)
        self._change_count = 0
        self._waiting = 0  # waiters right now: with none, a change wakes no one (the usual case)
        self.changes = Changes()  # the engine's notices (`changes`): the engine shares this one

    def _note(self, entry: JournalEntry) -> None:
        self._changes.append(entry)
        self._change_count += 1
        if self._waiting:
            self._changed.notify_all()
        if self.changes.listening:
            self.changes.publish(JOURNAL, entry.seq)

    def record(self, entry: JournalEntry) -> JournalEntry:
        with self._changed:
            entry.seq = next(self._seq)
            self._entries.append(entry)
            # `_note`, inlined: every request passes here and through `answered`.
            self._changes.append(entry)
            self._change_count += 1
            if self._waiting:
                self._changed.notify_all()
            if self.changes.listening:
                self.changes.publish(JOURNAL, entry.seq)
        return entry

    def update(self, entry: JournalEntry, **fields: Any) -> None:
        """Fill in an entry as its request goes on (its task, then its answer)."""
        with self._changed:
            for name, value in fields.items():
                setattr(entry, name, value)
            self._note(entry)

    def holding(self, task_id: str) -> None:
        """The call that made ``task_id`` is held until it ends (a shared journal writes
        its entry now; this one has it already)."""

    def answered(
        self,
        entry: JournalEntry,
        *,
        body: Any,
        verdict: dict[str, Any] | None,
        status: int,
        answer: Any,
        task_id: str | None,
        rule: str | None,
        fault: str | None,
        answer_headers: dict[str, str] | None = None,
        payment: dict[str, Any] | None = None,
    ) -> None:
        """Complete a request's entry with how it was answered (`update`, spelled out for
        the one call every request makes)."""
        with self._changed:
            entry.body, entry.verdict, entry.status, entry.answer = body, verdict, status, answer
            entry.task_id, entry.rule, entry.fault = task_id, rule, fault
            entry.answer_headers = answer_headers
            if payment is not None:
                entry.payment = payment
            if entry.received:
                entry.duration_ms = took = (_perf_counter() - entry.received) * 1000
                entry.arrived = time.time() - took / 1000
            self._changes.append(entry)  # `_note`, inlined (see `record`)
            self._change_count += 1
            if self._waiting:
                self._changed.notify_all()
            if self.changes.listening:
                self.changes.publish(JOURNAL, entry.seq)

    def entries(self, **filters: Any) -> list[JournalEntry]:
        wanted = check_filters(filters)
        with self._changed:
            return [e for e in self._entries if e.matches(wanted)]

    def wait(self, timeout: float = 10.0, **filters: Any) -> JournalEntry:
        """The first entry matching ``filters`` — at once if one is there, else the next
        to arrive; TimeoutError after ``timeout`` real seconds. Use ``since`` (a seq) to
        wait only for entries newer than one already seen."""
        wanted = check_filters(filters)
        deadline = time.monotonic() + timeout
        with self._changed:
            candidates: Iterable[JournalEntry] = self._entries
            while True:
                found = next((e for e in candidates if e.matches(wanted)), None)
                seen = self._change_count
                left = deadline - time.monotonic()
                if found is not None or left <= 0:
                    break
                self._waiting += 1
                try:
                    self._changed.wait(left)
                finally:
                    self._waiting -= 1
                candidates = self._since(seen)
        if found is None:
            raise TimeoutError(f"no journal entry matching {wanted} within {timeout} s")
        return found

    def _since(self, seen: int) -> list[JournalEntry]:
        """The entries recorded or updated after change number ``seen``, oldest first."""
        new = self._change_count - seen
        if new > len(self._changes):  # more than we keep: look at everything
            return list(self._entries)
        return list(itertools.islice(reversed(self._changes), new))[::-1]

    def by_seq(self, seq: int) -> JournalEntry | None:
        """The entry numbered ``seq``, while the journal keeps it (seqs are consecutive,
        so it is found by position)."""
        with self._changed:
            if not self._entries:
                return None
            index = seq - self._entries[0].seq
            if 0 <= index < len(self._entries):
                return self._entries[index]
            return None

    def latest(self, limit: int, **filters: Any) -> list[JournalEntry]:
        """The newest ``limit`` entries matching ``filters``, newest first."""
        wanted = check_filters(filters)
        with self._changed:
            found: list[JournalEntry] = []
            for entry in reversed(self._entries):
                if entry.matches(wanted):
                    found.append(entry)
                    if len(found) >= limit:
                        break
            return found

    def last_seq(self) -> int:
        with self._changed:
            return self._entries[-1].seq if self._entries else 0

    def clear(self) -> None:
        with self._changed:
            self._entries.clear()
            self._changes.clear()
