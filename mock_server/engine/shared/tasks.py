"""Tasks on a shared Redis store (see the package `shared` for the whole design).

One hash per task (``luma-mock:<dialect>:t:<id>``): ``rec``, what it was made with and
its plan (the JSON of the fields fixed at creation, ``starts_at`` included), ``end`` once
it has ended (state, time, result or error), ``epoch`` (the store's reset count when it
was made) and ``out`` (its output id); beside them the creation order, the finishing
order (``--max-tasks`` evicts finished tasks only, those that finished first first, as in
memory) and an index from output id to task. Adding (with its evictions) and ending are
Lua scripts: each is one step for Redis, whichever process runs it.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any

from ..clock import Clock
from ..errors import ApiError
from ..tasks import Task, TaskState
from .lane import Lane
from .notes import CHANNEL, DUE, DUE_EVENTS, DUE_TIMES, LISTENING, PREFIX, SEND, TELL

_FIXED = (
    "id",
    "output_id",
    "action",
    "request",
    "token",
    "trace_id",
    "variant",
    "public_url",
    "created_at",
    "starts_at",
    "ends_at",
    "callback_url",
    "ref",
    "charged",
)
_ADD = (
    TELL
    + """
redis.call('HSET', KEYS[1], 'rec', ARGV[2], 'epoch', ARGV[3], 'out', ARGV[4])
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[5]), ARGV[1])
redis.call('HSET', KEYS[3], ARGV[4], ARGV[1])
local n, max = redis.call('ZCARD', KEYS[2]), tonumber(ARGV[5])
while n > max do
  local victim = redis.call('ZPOPMIN', KEYS[4])
  if #victim == 0 then break end
  local key = ARGV[6] .. victim[1]
  local out = redis.call('HGET', key, 'out')
  if out then redis.call('HDEL', KEYS[3], out) end
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[2], victim[1])
  redis.call('INCR', KEYS[6])
  n = n - 1
end
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[8], ARGV[8], ARGV[9])
  redis.call('HSET', KEYS[9], ARGV[8], ARGV[10])
  redis.call('ZADD', KEYS[7], ARGV[10], ARGV[8])
end
tell('task ' .. ARGV[7] .. ' ' .. ARGV[1])
return 1
"""
)

# KEYS: task, finished, seq, (its callback's: SEND's 7 keys), listening, channel
# ARGV: epoch, end, id, dialect, (its callback's: SEND's 10 arguments), origin
_END = (
    TELL
    + SEND
    + """
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
if redis.call('HSETNX', KEYS[1], 'end', ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[3])
if #KEYS > 5 then send(4, 5) end
tell('end ' .. ARGV[4] .. ' ' .. ARGV[3])
return 1
"""
)


class RedisTaskStore:
    """One dialect's tasks on the shared store (see the module's docstring for keys)."""

    def __init__(
        self,
        redis: Any,
        dialect: str,
        max_tasks: int,
        clock: Clock,
        *,
        epoch: Callable[[], int],
        origin: str,
        lane: Lane | None = None,
    ) -> None:
        if max_tasks < 1:
            raise ValueError("max_tasks must be at least 1")
        self.redis, self.clock, self.max_tasks = redis, clock, max_tasks
        self._lane = lane or Lane(redis)
        self._epoch, self._origin = epoch, origin
        ns = f"{PREFIX}:{dialect}"
        self._ns, self._task = ns, f"{ns}:t:"
        self._order, self._finished, self._outputs = f"{ns}:order", f"{ns}:finished", f"{ns}:outs"
        self._seq, self._evicted = f"{ns}:seq", f"{ns}:evicted"
        self._add, self._end = self.redis.register_script(_ADD), self.redis.register_script(_END)
        self._dialect = self.dialect = dialect
        self._watchers: dict[str, list[threading.Event]] = {}
        self._lock = threading.Lock()

    @property
    def epoch(self) -> int:
        return self._epoch()

    @property
    def evicted(self) -> int:
        return int(self.redis.get(self._evicted) or 0)

    def add(self, task: Task, end: tuple[str, float, dict[str, Any]] | None = None) -> None:
        """Keep ``task``; with ``end`` (an event id, due time and payload), put its end
        on the due queue in the same script (`shared.Shared.add_task`)."""
        fixed = json.dumps({name: _finite(getattr(task, name)) for name in _FIXED})
        keys = [self._task + task.id, self._order, self._outputs, self._finished, self._seq]
        keys += [self._evicted, DUE, DUE_EVENTS, DUE_TIMES, LISTENING, CHANNEL]
        args = [task.id, fixed, task.epoch, task.output_id, self.max_tasks, self._task]
        event = ["", "", ""]
        if end is not None and math.isfinite(end[1]):  # never due: nothing to keep
            event = [end[0], json.dumps(end[2]), repr(end[1])]
        self._lane.script(self._add, keys, [*args, self._dialect, *event, self._origin])

    def end(
        self,
        task: Task,
        state: TaskState,
        at: float,
        result: dict[str, Any] | None,
        error: ApiError | None,
        callback: tuple[list[str], list[Any]] | None = None,
    ) -> bool:
        """End ``task`` once (False if it had ended, or is of an earlier epoch); with
        ``callback`` (`callbacks.SharedCallbacks.sending`), make its callback's delivery
        and first attempt in the same script: the end and the callback cannot be parted
        by a crash or an outage between two steps."""
        ended = {
            "state": state.value,
            "at": at,
            "result": result,
            "error": None if error is None else [error.code, error.message],
        }
        sent_keys, sent_args = callback or ([], [])
        keys = [self._task + task.id, self._finished, self._seq, *sent_keys, LISTENING, CHANNEL]
        args = [task.epoch, json.dumps(ended), task.id, self._dialect, *sent_args, self._origin]
        if not self._lane.script(self._end, keys, args):
            return False
        task.result, task.error = result, error
        task.end(state, at)
        return True

    def finished(self, task: Task) -> None:
        """Wake this process's watchers of ``task`` (the others heard of it from the
        script that ended it)."""
        self.heard_end(task.id)

    def heard_end(self, task_id: str) -> None:
        with self._lock:
            watchers = self._watchers.pop(task_id, [])
        for event in watchers:
            event.set()

    def look_again(self) -> None:
        """Wake the watchers whose task has ended or gone (notes of it may have been
        missed: `listener.Listener.caught_up`)."""
        with self._lock:
            watched = list(self._watchers)
        for task_id in watched:
            kept = self.get(task_id)
            if kept is None or kept.finished:
                self.heard_end(task_id)

    def watch(self, task: Task, event: threading.Event) -> None:
        with self._lock:
            self._watchers.setdefault(task.id, []).append(event)
        kept = self.get(task.id)
        if kept is None or kept.finished or kept.epoch != task.epoch:
            # Ended already, or gone: no note of its end will come to take the watcher
            # off, so it goes now (else one entry stays for good per such wait), and the
            # waiter looks again.
            with self._lock:
                waiting = self._watchers.get(task.id, [])
                if event in waiting:
                    waiting.remove(event)
                if not waiting:
                    self._watchers.pop(task.id, None)
            event.set()

    def current(self, task: Task) -> Task | None:
        kept = self.get(task.id)
        return kept if kept is not None and kept.epoch == task.epoch else None

    def get(self, task_id: str) -> Task | None:
        fixed, ended, epoch = self._lane.call("HMGET", self._task + task_id, "rec", "end", "epoch")
        return None if fixed is None else self._task_from(fixed, ended, epoch)

    def _task_from(self, fixed: bytes, ended: bytes | None, epoch: bytes) -> Task:
        values = json.loads(fixed)
        values["starts_at"] = _float(values["starts_at"])
        values["ends_at"] = _float(values.get("ends_at"))
        task = Task(**values, clock=self.clock, epoch=int(epoch))
        if ended is not None:
            end = json.loads(ended)
            task.result = end["result"]
            task.error = None if end["error"] is None else ApiError(*end["error"])
            task.end(TaskState(end["state"]), end["at"])
        return task

    def by_output(self, output_id: str) -> Task | None:
        task_id = self.redis.hget(self._outputs, output_id)
        return self.get(text(task_id)) if task_id is not None else None

    def remove(self, task_id: str) -> Task | None:
        task = self.get(task_id)
        if task is not None:
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(self._task + task_id)
                pipe.zrem(self._order, task_id)
                pipe.zrem(self._finished, task_id)
                pipe.hdel(self._outputs, task.output_id)
                pipe.execute()
        return task

    def clear(self) -> None:
        # The eviction count is of the store's life, as in memory: a reset keeps it.
        found = self.redis.scan_iter(match=f"{self._ns}:*", count=1000)
        keys = [key for key in found if text(key) != self._evicted]
        for start in range(0, len(keys), 1000):
            self.redis.delete(*keys[start : start + 1000])

    def __len__(self) -> int:
        return int(self.redis.zcard(self._order))

    def __iter__(self) -> Iterator[Task]:
        ids = [text(i) for i in self.redis.zrange(self._order, 0, -1)]
        with self.redis.pipeline(transaction=False) as pipe:
            for task_id in ids:
                pipe.hmget(self._task + task_id, "rec", "end", "epoch")
            rows = pipe.execute()
        return iter([self._task_from(*row) for row in rows if row[0] is not None])


def _finite(value: Any) -> Any:
    """JSON has no infinity: a never-starting task's ``starts_at`` is kept as null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _float(value: float | None) -> float:
    return math.inf if value is None else float(value)


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
