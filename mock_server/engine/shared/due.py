"""The shared due queue: events (a task's end, for now) that every process on one Redis
store may run, each run by exactly one of them at a time, and none lost when a process
dies holding one.

Keys, under the store's prefix ``P``:

- ``P:due`` — a sorted set of waiting event ids, scored by their due time on the fake's
  clock (the shared clock's seconds);
- ``P:leased`` — a sorted set of claimed event ids, scored by when their lease runs out,
  in *Redis's own* wall time (``TIME``): leases must run out while the fake's clock
  stands still (a manual clock) and must not depend on any one host's clock;
- ``P:events``, ``P:dues``, ``P:owners`` — hashes of each event's payload, due time and
  current claimant.

Why exactly one owner. Every move of an event happens inside one Lua script, and Redis
runs a script as one step with nothing in between: `claim` takes due events out of
``P:due`` and into ``P:leased`` naming its claimant, so two processes claiming at once
get disjoint events; an event is in ``P:due`` or in ``P:leased``, never both. Only the
named claimant may `ack` (finish) it. A lease that runs out puts the event back in
``P:due`` (done by whoever claims next, before it claims), and the next claim names a new
owner, after which the old one's `ack` is refused. What a lease cannot promise is that a
claimant which has stalled past its lease (a long pause, a partition) does not still act
— so what an event *does* is made safe to do twice: a task's end is a compare-and-set on
the task (`tasks.RedisTaskStore.end`) whose winning set also makes the callback's
delivery, in the same script. So a task ends exactly once whoever runs its event, and
however often, and its callback is made exactly when it ends.

SIGKILL: the dead process's claims are leased, not lost; when the lease runs out, the
next claim (any process's runner on a real clock; the next move of a manual clock) puts
them back and runs them. A restart of every process loses nothing either: the events are
in Redis, at their planned times.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ApiError
from .lane import Lane

_CLAIM = """
local t = redis.call('TIME')
local wall = tonumber(t[1]) + tonumber(t[2]) / 1000000
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', wall)
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[2], id)
  local due = redis.call('HGET', KEYS[4], id)
  if due then redis.call('ZADD', KEYS[1], due, id) end
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], wall + tonumber(ARGV[2]), id)
  redis.call('HSET', KEYS[5], id, ARGV[3])
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', KEYS[4], id)
  out[#out + 1] = redis.call('HGET', KEYS[3], id)
end
-- What a runner sleeps until: the next waiting event's due time, and the seconds until
-- the next lease lapses (as strings: Redis would cut a Lua number to an integer).
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local lapse = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
table.insert(out, 1, head[2] or '')
table.insert(out, 2, lapse[2] and tostring(tonumber(lapse[2]) - wall) or '')
return out
"""

_CLAIM_ONE = """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return nil end
local t = redis.call('TIME')
local wall = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], wall + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[5], ARGV[1], ARGV[3])
return {redis.call('HGET', KEYS[4], ARGV[1]), redis.call('HGET', KEYS[3], ARGV[1])}
"""

_ACK = """
if redis.call('HGET', KEYS[4], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return 1
"""

_RENEW = """
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
local t = redis.call('TIME')
local wall = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[1], 'XX', wall + tonumber(ARGV[3]), ARGV[1])
return 1
"""


@dataclass(frozen=True)
class DueEvent:
    id: str
    due: float
    payload: dict[str, Any]


class DueQueue:
    """The due queue of one store, as one process (``owner``) sees it."""

    def __init__(
        self, redis: Any, prefix: str, owner: str, lease: float = 30.0, lane: Lane | None = None
    ) -> None:
        self.redis = redis
        self._lane = lane or Lane(redis)  # a runner claims often: the cheap way
        self.owner = owner
        self.lease = lease
        self._due, self._leased = f"{prefix}:due", f"{prefix}:leased"
        self._events, self._dues, self._owners = (
            f"{prefix}:events",
            f"{prefix}:dues",
            f"{prefix}:owners",
        )
        # By role, for the scripts of other modules that move events (`callbacks`).
        self.keys = {
            "due": self._due,
            "leased": self._leased,
            "events": self._events,
            "dues": self._dues,
            "owners": self._owners,
        }
        # What the last claim saw (`rest`), and when the runner means to look again.
        self._next_due = self._next_lapse = self._wake_at = math.inf
        self.on_added: Callable[[], None] | None = None  # wakes this process's runner
        self._claim = redis.register_script(_CLAIM)
        self._claim_one = redis.register_script(_CLAIM_ONE)
        self._ack = redis.register_script(_ACK)
        self._renew = redis.register_script(_RENEW)

    def add(self, event_id: str, due: float, payload: dict[str, Any]) -> None:
        if not math.isfinite(due):
            return  # never due (an infinite delay): nothing to keep
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._events, event_id, json.dumps(payload))
            pipe.hset(self._dues, event_id, repr(due))
            pipe.zadd(self._due, {event_id: due})
            pipe.execute()
        self.added(due)

    def end_at(
        self, due: float, engine: str, task_id: str, epoch: int, error: ApiError | None
    ) -> str:
        """A task's end (`service.Engine.create`): its engine (dialect), id, the store's
        epoch it was made in, and how it ends."""
        event_id, payload = self.end_event(engine, task_id, epoch, error)
        self.add(event_id, due, payload)
        return event_id

    @staticmethod
    def end_event(
        engine: str, task_id: str, epoch: int, error: ApiError | None
    ) -> tuple[str, dict[str, Any]]:
        """A task's end as an event: its id (one per task and epoch) and payload."""
        failure = None if error is None else [error.code, error.message]
        payload = {"engine": engine, "task": task_id, "epoch": epoch, "error": failure}
        return f"end:{engine}:{epoch}:{task_id}", payload

    def start_at(self, due: float, engine: str, task_id: str, epoch: int) -> None:
        """A task's leaving the queue, for a dialect that calls back then."""
        payload = {"kind": "start", "engine": engine, "task": task_id, "epoch": epoch}
        self.add(f"start:{engine}:{epoch}:{task_id}", due, payload)

    def claim_event(self, event_id: str) -> DueEvent | None:
        """Claim this one event, if it is waiting (the creator of an instant task runs
        its end at once, and nothing else that is due)."""
        raw = self._claim_one(
            keys=[self._due, self._leased, self._events, self._dues, self._owners],
            args=[event_id, repr(self.lease), self.owner],
        )
        if not raw or raw[0] is None or raw[1] is None:
            return None
        return DueEvent(event_id, float(raw[0]), json.loads(raw[1]))

    def claim(self, until: float, limit: int = 32, lease: float | None = None) -> list[DueEvent]:
        """Claim up to ``limit`` events due by ``until`` (earliest first) for this
        process, leased for ``lease`` seconds of Redis's time."""
        lease = self.lease if lease is None else lease
        raw = self._lane.script(
            self._claim,
            [self._due, self._leased, self._events, self._dues, self._owners],
            [repr(until), repr(lease), self.owner, limit],
        )
        head, lapse, raw = raw[0], raw[1], raw[2:]
        self._next_due = float(head) if head else math.inf
        self._next_lapse = time.monotonic() + float(lapse) if lapse else math.inf
        events = []
        for i in range(0, len(raw), 3):
            event_id, due, payload = raw[i : i + 3]
            if due is None or payload is None:  # acked by its last owner meanwhile
                continue
            events.append(DueEvent(_text(event_id), float(due), json.loads(payload)))
        return events

    def rest(self, now: float, longest: float) -> float:
        """Seconds a runner may sleep after a claim at ``now`` that found nothing due:
        until the next event falls due or the next lease lapses (as that claim saw the
        queue), and ``longest`` at most — what an event another process added since, and
        did not live to run, may be late by. This process's own additions wake its runner
        sooner (`added`)."""
        until = min(self._next_due - now, self._next_lapse - time.monotonic(), longest)
        self._wake_at = now + max(until, 0.0)
        return max(until, 0.0)

    def awake(self) -> None:
        """The runner looks at the queue now: whatever is added from here on wakes its
        next rest at once (it may have been added after the look)."""
        self._wake_at = math.inf

    def added(self, due: float = -math.inf) -> None:
        """This process put an event due at ``due`` (default: at once) on the queue: its
        runner, if it sleeps past then, wakes now to look again. (At once needs no
        reading of the clock: on a shared manual clock that would be a round trip.)"""
        if due < self._wake_at and self.on_added is not None:
            self.on_added()

    def ack(self, event: DueEvent) -> bool:
        """Done: forget it, if this process still owns it (False: its lease ran out and
        another claimed it; what it did is safe twice, see the module's docstring)."""
        keys = [self._leased, self._events, self._dues, self._owners]
        return bool(self._lane.script(self._ack, keys, [event.id, self.owner]))

    def renew(self, event: DueEvent, seconds: float | None = None) -> bool:
        """Hold ``event`` for ``seconds`` more (default: a lease) from now on Redis's
        clock; False if it is no longer ours (its lease lapsed and another took it)."""
        keys = [self._leased, self._owners]
        held = self.lease if seconds is None else seconds
        return bool(self._renew(keys=keys, args=[event.id, self.owner, repr(held)]))

    def next_due(self) -> float | None:
        head = self.redis.zrange(self._due, 0, 0, withscores=True)
        return float(head[0][1]) if head else None

    def waiting(self) -> int:
        """Events not yet claimed, and claimed ones not yet done."""
        return int(self.redis.zcard(self._due)) + int(self.redis.zcard(self._leased))

    def clear(self) -> None:
        self.redis.delete(self._due, self._leased, self._events, self._dues, self._owners)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
