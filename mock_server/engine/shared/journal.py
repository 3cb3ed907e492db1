"""The journal on a shared Redis store: every process's requests and callback attempts in
one order, readable and waitable through any process.

Keys, under the store's prefix: ``journal:seq`` numbers entries (one sequence for all
processes, so ``since`` means the same everywhere); ``journal:entries`` holds each
entry's JSON by number; ``journal:order`` the numbers, oldest first, trimmed to the
journal's limit. Recording (with the trim) and filling an entry in are Lua scripts that
also publish a note to the processes that listen, so a `wait` in any process wakes when
any process records. A request's entry is written once, when it is answered (or when
its call is held until its task ends: `holding`), so its seq is given then.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from ..changes import JOURNAL
from ..journal import Journal, JournalEntry, check_filters
from .lane import Lane
from .notes import CHANNEL, LISTENING, TELL

_RECORD = (
    TELL
    + """
local seq = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], seq, ARGV[1])
redis.call('ZADD', KEYS[3], seq, seq)
local over = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[2])
if over > 0 then
  for _, old in ipairs(redis.call('ZPOPMIN', KEYS[3], over)) do
    redis.call('HDEL', KEYS[2], old)
  end
end
tell('journal ' .. seq)
return seq
"""
)

_UPDATE = (
    TELL
    + """
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
tell('journal ' .. ARGV[1])
return 1
"""
)

# ``received`` is this process's perf_counter reading: meaningless in another.
_NAMES = tuple(f.name for f in fields(JournalEntry) if f.name not in ("seq", "received"))


class RedisJournal(Journal):
    """`journal.Journal`'s interface over a shared store."""

    def __init__(
        self,
        redis: Any,
        prefix: str,
        origin: str,
        limit: int = 10_000,
        listening: Any = None,
        lane: Lane | None = None,
    ) -> None:
        super().__init__(limit)
        self.redis, self.limit = redis, limit
        self._lane = lane or Lane(redis)
        self._seq, self._entries_key, self._order = (
            f"{prefix}:journal:seq",
            f"{prefix}:journal:entries",
            f"{prefix}:journal:order",
        )
        self._origin = origin
        # `Shared.listening`: a waiter here has the others tell it of their entries.
        self._listening = listening or contextlib.nullcontext
        self._record = redis.register_script(_RECORD)
        self._update = redis.register_script(_UPDATE)
        self._waits = 0  # calls in `wait` now
        self._unwritten: dict[str, JournalEntry] = {}  # by task: requests not yet written
        self._heard_count = 0  # notes heard: a waiter looks again when it moves

    def record(self, entry: JournalEntry) -> JournalEntry:
        if entry.kind == "request":
            # Written when it is answered, or first changed (a held call's task): one
            # script per request instead of two. Until then it has no seq.
            return entry
        return self._record_now(entry)

    def _record_now(self, entry: JournalEntry) -> JournalEntry:
        keys = [self._seq, self._entries_key, self._order, LISTENING, CHANNEL]
        args = [_encode(entry), self.limit, self._origin]
        try:
            entry.seq = int(self._lane.script(self._record, keys, args))
        except Exception as failed:  # Redis away: the call goes on (a 503 if it needs it)
            if not _unreachable(failed):
                raise
            return entry
        if self._waits:  # a waiter of this process (the others are told by the script)
            self.heard()
        if self.changes.listening:
            self.changes.publish(JOURNAL, entry.seq)
        return entry

    def _write(self, entry: JournalEntry, change: Callable[[], None]) -> None:
        with self._changed:
            change()
        if not entry.seq:  # not written yet (see `record`): the whole entry, now
            if entry.task_id is not None:
                with self._changed:
                    self._unwritten.pop(entry.task_id, None)
            self._record_now(entry)
            return
        keys = [self._entries_key, self._order, LISTENING, CHANNEL]
        try:
            self._lane.script(self._update, keys, [entry.seq, _encode(entry), self._origin])
        except Exception as failed:
            if not _unreachable(failed):
                raise
            return
        if self._waits:  # a waiter of this process (the others are told by the script)
            self.heard()
        if self.changes.listening:
            self.changes.publish(JOURNAL, entry.seq)

    def update(self, entry: JournalEntry, **values: Any) -> None:
        def change() -> None:
            for name, value in values.items():
                setattr(entry, name, value)

        if entry.seq or entry.kind != "request":
            self._write(entry, change)
            return
        with self._changed:  # not written yet: it will be, whole, when answered ...
            change()
            if entry.task_id is not None:
                self._unwritten[entry.task_id] = entry

    def holding(self, task_id: str) -> None:
        """... or now, if its call is held until its task ends (`Engine.wait_result`):
        a test may wait for that entry, unanswered, through any process."""
        with self._changed:
            entry = self._unwritten.pop(task_id, None)
        if entry is not None and not entry.seq:
            self._record_now(entry)

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
        def change() -> None:
            entry.body, entry.verdict, entry.status, entry.answer = body, verdict, status, answer
            entry.task_id, entry.rule, entry.fault = task_id, rule, fault
            entry.answer_headers = answer_headers
            if payment is not None:
                entry.payment = payment
            if entry.received:
                entry.duration_ms = took = (time.perf_counter() - entry.received) * 1000
                entry.arrived = time.time() - took / 1000

        self._write(entry, change)

    def entries(self, **filters: Any) -> list[JournalEntry]:
        wanted = check_filters(filters)
        since = int(wanted.get("since", 0))
        seqs = self.redis.zrangebyscore(self._order, f"({since}", "+inf")
        if not seqs:
            return []
        raw = self.redis.hmget(self._entries_key, seqs)
        found = (
            _decode(int(seq), data) for seq, data in zip(seqs, raw, strict=True) if data is not None
        )
        return [entry for entry in found if entry.matches(wanted)]

    def wait(self, timeout: float = 10.0, **filters: Any) -> JournalEntry:
        with self._changed:
            self._waits += 1
        try:
            with self._listening():  # before the first look: no entry falls between
                return self._wait(timeout, **filters)
        finally:
            with self._changed:
                self._waits -= 1

    def _wait(self, timeout: float, **filters: Any) -> JournalEntry:
        check_filters(filters)
        deadline = time.monotonic() + timeout
        while True:
            with self._changed:
                heard = self._heard_count
            found = self.entries(**filters)
            if found:
                return found[0]
            left = deadline - time.monotonic()
            with self._changed:
                if left <= 0:
                    break
                if self._heard_count == heard:  # nothing new since the look: wait for it
                    self._waiting += 1
                    try:
                        self._changed.wait(left)
                    finally:
                        self._waiting -= 1
        raise TimeoutError(f"no journal entry matching {check_filters(filters)} within {timeout} s")

    def heard(self) -> None:
        """A process (this one too) recorded or filled in an entry."""
        with self._changed:
            self._heard_count += 1
            self._changed.notify_all()

    def by_seq(self, seq: int) -> JournalEntry | None:
        data = self.redis.hget(self._entries_key, seq)
        return None if data is None else _decode(int(seq), data)

    def latest(self, limit: int, **filters: Any) -> list[JournalEntry]:
        wanted = check_filters(filters)
        found: list[JournalEntry] = []
        end, batch = -1, max(limit, 100)
        while len(found) < limit:  # newest first, a batch at a time
            seqs = self.redis.zrange(self._order, end - batch + 1, end)
            if not seqs:
                break
            raw = self.redis.hmget(self._entries_key, seqs)
            for seq, data in reversed(list(zip(seqs, raw, strict=True))):
                if data is not None and (entry := _decode(int(seq), data)).matches(wanted):
                    found.append(entry)
                    if len(found) >= limit:
                        break
            if len(seqs) < batch:
                break
            end -= batch
        return found

    def last_seq(self) -> int:
        last = self.redis.zrange(self._order, -1, -1)
        return int(last[0]) if last else 0

    def clear(self) -> None:
        self.redis.delete(self._entries_key, self._order)


def _unreachable(error: Exception) -> bool:
    """Redis out of reach (its connection and timeout errors), not a bug."""
    import redis

    return isinstance(error, (redis.ConnectionError, redis.TimeoutError, OSError))


def _encode(entry: JournalEntry) -> str:
    # default=str: a value JSON cannot hold is kept as its text rather than refused.
    return json.dumps({name: getattr(entry, name) for name in _NAMES}, default=str)


def _decode(seq: int, data: bytes) -> JournalEntry:
    return JournalEntry(**json.loads(data), seq=seq)
