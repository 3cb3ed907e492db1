"""Callbacks on a shared Redis store: every attempt a due event, claimed by exactly one
process with a lease (`due`), and every attempt in one shared delivery log.

Keys, under ``P:<dialect>`` (``P`` the store's prefix): ``cb:<key>`` a hash per delivery
(``task_id``, ``url``, ``body``, ``state``, ``epoch``), ``cba:<key>`` the list of its
attempts (JSON, in order), ``cbs`` the deliveries in the order they were made and
``cbdone`` the finished ones in the order they finished (``--max-tasks`` keeps that many
logs, forgetting finished ones first, as in memory).

Why a successful delivery happens at most once per event, and none is lost. A task's
end makes its callback's delivery and first attempt's due event in the script that ends
it (`tasks.RedisTaskStore.end`, with `SEND`): an end is never recorded without its
callback, whatever stops the process or Redis right after it; `send` (a Dream Machine
"dreaming" callback) does the same on its own. An attempt's event is claimed by one
process, which holds it for a lease plus the attempt's timeout before its POST; after
the POST, `_SETTLE` — one script — appends the attempt to the log, sets the delivery's
state, adds the next attempt's event if one is due, and acks this one, but only while
the claimant still owns the event. A process killed before its POST leaves the event
leased: when the lease runs out another process claims it and makes the attempt.

Redis away when the attempt settles (a blink: a restart, a dropped connection). The
process keeps the outcome and tries the settle again, backing off (`notes.again`), until
Redis answers — so a blink that ends before the hold does (at least a lease after the
POST) never sends an attempt twice. A longer one: when Redis is back, another process
may claim the lapsed event first and post it again; this process's late settle then
finds it no longer owns the event and only logs its attempt (the receiver got it, so
the log shows it: two attempts of one number), changing nothing else. A claimant that
stalled past its lease settles so too. Past the hold and a further lease, the process
gives up (an error line): that attempt is not logged, and is made again. A settle whose
reply was lost and that is sent again finds its attempt logged and changes nothing.

The one window that no lease closes is a process killed between its POST and its
settle: the receiver got the body, nobody logged it, and the attempt is made again by
the next claimant (the log shows that one).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Any

from ..callbacks import (
    CallbackAttempt,
    CallbackDelivery,
    CallbackDispatcher,
    RetryPolicy,
    TargetPolicy,
    make_attempt,
)
from ..scheduler import Scheduler
from .due import DueEvent, DueQueue
from .notes import CHANNEL, LISTENING, SEND, TELL, again, blinks

log = logging.getLogger("luma_mock.callbacks")

_FINISHED = ("delivered", "failed", "refused", "dropped")

_SEND = SEND + "return send(1, 1)"

# KEYS: delivery, attempts, done, seq, leased, events, dues, owners, due, (listening, channel)
# ARGV: event id, owner, attempt, state, next id, next payload, next due, key, dialect, origin
_SETTLE = (
    TELL
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 3 end
if redis.call('HGET', KEYS[8], ARGV[1]) ~= ARGV[2] then
  -- Not (or no longer) this claimant's: the attempt is logged, and nothing else changes;
  -- unless it is there already (this settle ran before, and its reply was lost): 2.
  if redis.call('LPOS', KEYS[2], ARGV[3]) then return 2 end
  redis.call('RPUSH', KEYS[2], ARGV[3])
  return 0
end
redis.call('RPUSH', KEYS[2], ARGV[3])
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'scheduled' then redis.call('HSET', KEYS[1], 'state', ARGV[4]) end
if ARGV[4] ~= 'scheduled' then
  redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[4]), ARGV[8])
elseif ARGV[5] ~= '' then
  redis.call('HSET', KEYS[6], ARGV[5], ARGV[6])
  redis.call('HSET', KEYS[7], ARGV[5], ARGV[7])
  redis.call('ZADD', KEYS[9], ARGV[7], ARGV[5])
end
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('HDEL', KEYS[6], ARGV[1])
redis.call('HDEL', KEYS[7], ARGV[1])
redis.call('HDEL', KEYS[8], ARGV[1])
tell('callback ' .. ARGV[9] .. ' ' .. ARGV[8])
return 1
"""
)


class SharedCallbacks(CallbackDispatcher):
    """One dialect's callback deliveries on the shared store (see the module)."""

    def __init__(
        self,
        redis: Any,
        prefix: str,
        dialect: str,
        due: DueQueue,
        scheduler: Scheduler,
        retry: RetryPolicy,
        targets: TargetPolicy,
        *,
        epoch: Any,
        max_deliveries: int = 10_000,
    ) -> None:
        super().__init__(scheduler, scheduler.clock, retry, targets, max_deliveries=max_deliveries)
        self.redis, self.due, self.dialect = redis, due, dialect
        self._ns = f"{prefix}:{dialect}:"
        self._order, self._done, self._seq = (
            f"{self._ns}cbs",
            f"{self._ns}cbdone",
            f"{self._ns}cbseq",
        )
        self._epoch = epoch
        self._send = redis.register_script(_SEND)
        self._settle_script = redis.register_script(_SETTLE)

    # -- the log ------------------------------------------------------------------

    def send(self, task_id: str, url: str, body: dict[str, Any]) -> CallbackDelivery:
        """Make the delivery and its first attempt's due event, once per key; its
        attempts are made by whichever process claims them (not inline: the call that
        caused it is answered first)."""
        keys, args = self.sending(task_id, url, body)
        self._send(keys=keys, args=args)
        self.due.added()  # its first attempt, due at once
        return self.get(task_id) or CallbackDelivery(task_id, url, body)

    def sending(self, task_id: str, url: str, body: dict[str, Any]) -> tuple[list[str], list[Any]]:
        """The keys and arguments of `SEND` for this delivery, for a script that makes
        it in the same step as something else (a task's end: `tasks.RedisTaskStore.end`)."""
        epoch = self._epoch()
        event_id, payload = self._event(task_id, epoch, 1)
        keys = [self._ns + "cb:" + task_id, self._order, self._done, self._seq]
        keys += [self.due.keys["due"], self.due.keys["events"], self.due.keys["dues"]]
        args = [task_id, task_id, url, json.dumps(body), epoch, self.max_deliveries, self._ns]
        return keys, [*args, event_id, json.dumps(payload), repr(self.clock.now())]

    def _event(self, key: str, epoch: int, number: int) -> tuple[str, dict[str, Any]]:
        payload = {"kind": "callback", "engine": self.dialect, "key": key, "epoch": epoch}
        payload["attempt"] = number
        return f"cb:{self.dialect}:{epoch}:{key}:{number}", payload

    def get(self, task_id: str) -> CallbackDelivery | None:
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._ns + "cb:" + task_id)
            pipe.lrange(self._ns + "cba:" + task_id, 0, -1)
            record, attempts = pipe.execute()
        return None if not record else _delivery(record, attempts)

    def all(self) -> list[CallbackDelivery]:
        keys = [_text(k) for k in self.redis.zrange(self._order, 0, -1)]
        found = (self.get(key) for key in keys)
        return [delivery for delivery in found if delivery is not None]

    def clear(self) -> None:
        keys = list(self.redis.scan_iter(match=f"{self._ns}cb*", count=1000))
        for start in range(0, len(keys), 1000):
            self.redis.delete(*keys[start : start + 1000])

    def close(self) -> list[CallbackDelivery]:
        """Stop this process's part; deliveries under way stay in the store for the
        other processes (or this one, restarted) to go on with."""
        self._executor.shutdown()
        self._sender.close()
        return []

    # -- an attempt -----------------------------------------------------------------

    def run(self, event: DueEvent) -> None:
        """Make the attempt ``event`` stands for (on the pool with a real clock)."""
        self._executor.submit(self._attempt_event, event)

    def _attempt_event(self, event: DueEvent) -> None:
        key = str(event.payload["key"])
        # The POST may take the whole attempt timeout, longer than a short lease: hold the
        # event that long first, so no other process takes it while it is out; and if it
        # was taken already (it waited past its lease), the taker sends it, not this one.
        held = self.due.lease + self.retry.timeout
        try:
            delivery = self.get(key)
            if delivery is None or delivery.finished:  # reset away, or settled already
                self.due.ack(event)
                return
            if not self.due.renew(event, held):
                return
        except blinks() as down:  # nothing posted: the event stays leased, then retried
            log.warning(
                "callback %s: the shared store cannot be reached (%s); the attempt is "
                "made once its lease runs out and the store answers",
                key,
                down,
            )
            return
        # Until when a settle is worth trying: past the hold, another process may have
        # claimed the event (a late settle then only logs the attempt); a lease past that,
        # this process stops trying and says so.
        deadline = time.monotonic() + held + self.due.lease
        number = int(event.payload["attempt"])
        attempt, refused = make_attempt(number, self.clock.now(), lambda: self._post(delivery))
        state, next_id, payload, next_due = "scheduled", "", "", ""
        if attempt.ok:
            state = "delivered"
        elif refused:
            state = "refused"
        elif attempt.number > self.retry.retries:
            state = "failed"
        else:
            epoch = int(event.payload["epoch"])
            next_id, body = self._event(key, epoch, attempt.number + 1)
            payload = json.dumps(body)
            next_due = repr(self.clock.now() + self.retry.delay_before(attempt.number))
        due = self.due.keys
        keys = [self._ns + "cb:" + key, self._ns + "cba:" + key, self._done, self._seq]
        keys += [due["leased"], due["events"], due["dues"], due["owners"], due["due"]]
        keys += [LISTENING, CHANNEL]
        # One attempt, one entry: a settle sent twice (its first reply lost) logs it once.
        logged = json.dumps({**attempt.as_dict(), "id": uuid.uuid4().hex})
        args = [event.id, self.due.owner, logged, state]
        args += [next_id, payload, next_due, key, self.dialect, self.due.owner]
        try:
            self._settle_script(keys=keys, args=args)
        except blinks() as down:  # Redis away after the POST: keep the outcome
            log.warning(
                "callback task=%s attempt=%d: the shared store cannot be reached (%s); "
                "its outcome is kept and settled when the store answers",
                delivery.task_id,
                attempt.number,
                down,
            )
            settle = (keys, args, deadline, delivery, attempt, state)
            threading.Thread(target=self._settle_later, args=settle, daemon=True).start()
            return
        self._settled(delivery, attempt, state, next_due)

    def _settle_later(
        self,
        keys: list[str],
        args: list[Any],
        deadline: float,
        delivery: CallbackDelivery,
        attempt: CallbackAttempt,
        state: str,
    ) -> None:
        """Try the settle again until the store answers (`notes.again`), or until
        ``deadline`` (then the outcome is given up, saying so)."""
        try:
            owned = again(lambda: self._settle_script(keys=keys, args=args), deadline)
        except blinks():
            log.error(
                "callback task=%s attempt=%d: not settled, the shared store was away too "
                "long; the attempt is not in the log and will be made again",
                delivery.task_id,
                attempt.number,
            )
            return
        # 1: settled; 2: an earlier try had, its reply lost; 3: the delivery is gone (a reset)
        if owned == 0:
            log.warning(
                "callback task=%s attempt=%d: settled late, after another process had "
                "claimed it (logged; that process makes the attempt again)",
                delivery.task_id,
                attempt.number,
            )
        self._settled(delivery, attempt, state, args[6])  # (the next attempt's due time)

    def _settled(
        self, delivery: CallbackDelivery, attempt: CallbackAttempt, state: str, next_due: str
    ) -> None:
        """This process's part once an attempt is in the shared log."""
        if next_due:  # the next attempt is on the queue: this process's runner sees it
            self.due.added(float(next_due))
        delivery.attempts.append(attempt)
        delivery.state = state
        log.log(
            logging.INFO if attempt.ok else logging.WARNING,
            "callback task=%s attempt=%d %s -> %s",
            delivery.task_id,
            attempt.number,
            delivery.url,
            attempt.status if attempt.ok else attempt.error,
        )
        if self.on_attempt is not None:  # this process's waiters and notices
            self.on_attempt(delivery, attempt)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _delivery(record: dict[bytes, bytes], attempts: list[bytes]) -> CallbackDelivery:
    fields = {_text(k): _text(v) for k, v in record.items()}
    delivery = CallbackDelivery(fields["task_id"], fields["url"], json.loads(fields["body"]))
    delivery.state = fields["state"]
    for raw in attempts:
        done = json.loads(raw)
        delivery.attempts.append(
            CallbackAttempt(
                number=done["number"],
                at=done["at"],
                status=done["status"],
                error=done["error"],
                duration_ms=done["duration_ms"],
            )
        )
    if delivery.state in _FINISHED:
        delivery.done.set()
    return delivery
