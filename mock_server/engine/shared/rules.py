"""Scenario rules, balances and rate limits on a shared Redis store: one rule book with
one set of counters, one balance per token and one request window per token, whichever
process a call reaches.

Rules (under ``P:rules``): each rule's plain-data form by id (``P:rules`` hash), their
counters (``P:rules:matched``) and the next id. ``P:conf`` is a version bumped by every
change of the rules or the rate limit; each call reads it first (one GET, `Shared.check`)
and a process whose copy is older parses the book again: a rule added through one
process applies to the very next call through another. Taking a match is one script
(counted only while the rule has matches left), so a ``times: 1`` rule matches once
across all processes. The configured rules are set up by the first process on the store
(`Shared.loads_rules`); one started later keeps the book as it finds it.

Accounts (under ``P:acct``): balances in a hash (a spend checks and takes in one
script); each token's rate window a sorted set of its request times on the fake's clock;
the limit itself a key, so a change through the control API holds everywhere.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from typing import Any

from ..accounts import Accounts, PaidToken
from ..errors import ApiError
from ..scenarios import Outcome, Rule, ScenarioRequest, Scenarios
from .lane import Lane

_TAKE = """
local n = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if ARGV[2] ~= '' and n >= tonumber(ARGV[2]) then return -1 end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return -1 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
return n
"""

_SPEND = """
local b = redis.call('HGET', KEYS[1], ARGV[1])
if not b then b = ARGV[2] end
if b == 'none' then return '0' end
if tonumber(b) < tonumber(ARGV[3]) then return '-1' end
redis.call('HSET', KEYS[1], ARGV[1], tostring(tonumber(b) - tonumber(ARGV[3])))
return ARGV[3]
"""

_REFUND = """
local b = redis.call('HGET', KEYS[1], ARGV[1])
if not b then b = ARGV[2] end
if b == 'none' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], tostring(tonumber(b) + tonumber(ARGV[3])))
return 1
"""

_ADMIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[3]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[1] .. ':' .. redis.call('INCR', KEYS[2]))
return nil
"""


class SharedScenarios(Scenarios):
    """`scenarios.Scenarios` over the shared store (see the module)."""

    def __init__(
        self,
        redis: Any,
        prefix: str,
        endpoints: Collection[str] | None = None,
        *,
        dialect: str | None = None,
        lane: Lane | None = None,
    ) -> None:
        super().__init__(endpoints, dialect=dialect)
        self.redis, self._lane = redis, lane or Lane(redis)
        self._book, self._matched = f"{prefix}:rules", f"{prefix}:rules:matched"
        self._next, self._version = f"{prefix}:rules:next", f"{prefix}:conf"
        self._take = redis.register_script(_TAKE)
        self.check: Any = None  # `Shared.check`, once the store has made this book
        self.tell: Any = None  # tells the other processes the book changed

    def add(self, spec: Mapping[str, Any], *, more_dialects: bool = False) -> Rule:
        rule = super().add(spec, more_dialects=more_dialects)  # checks it; parsed here
        rule_id = int(self.redis.incr(self._next))
        kept = {**spec, "name": str(spec.get("name", f"rule-{rule_id}"))}
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._book, str(rule_id), json.dumps(kept))
            pipe.incr(self._version)
            pipe.execute()
        rule.id, rule.name = rule_id, kept["name"]
        self._refresh()
        self._told()
        return next((r for r in self._rules if r.id == rule_id), rule)

    def _told(self) -> None:
        if self.tell is not None:
            self.tell()

    def _refresh(self) -> None:
        """Parse the book again (it changed, through this process or another)."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._book)
            pipe.hgetall(self._matched)
            book, matched = pipe.execute()
        rules = []
        for raw_id, raw in sorted(book.items(), key=lambda item: int(item[0])):
            spec = json.loads(raw)
            parsed = Scenarios(self.endpoints, dialect=None)
            parsed.dialects = self.dialects
            rule = parsed.add(spec, more_dialects=True)
            rule.id = int(raw_id)
            rule.matched = int(matched.get(raw_id, 0))
            rules.append(rule)
        with self._lock:
            self._rules = rules
        self._changed()

    def decide(self, request: ScenarioRequest) -> tuple[Rule, Outcome] | None:
        with self._lock:
            rules = list(self._rules)
        for rule in rules:
            if not rule.match.matches(request):
                continue
            times = "" if rule.times is None else str(rule.times)
            keys = [self._matched, self._book]
            taken = int(self._lane.script(self._take, keys, [rule.id, times]))
            if taken < 0:  # spent through another process (or removed)
                continue
            rule.matched = taken + 1
            return rule, rule.outcomes[min(taken, len(rule.outcomes) - 1)]
        return None

    def remove(self, rule_id: int) -> bool:
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self._book, str(rule_id))
            pipe.hdel(self._matched, str(rule_id))
            pipe.incr(self._version)
            removed, _, _ = pipe.execute()
        self._refresh()
        self._told()
        return bool(removed)

    def clear(self) -> None:
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._book, self._matched)
            pipe.incr(self._version)
            pipe.execute()
        self._refresh()
        self._told()

    def list(self) -> list[Rule]:
        if self.check is not None:
            self.check()  # changed through another process: read it again
        matched = self.redis.hgetall(self._matched)
        with self._lock:
            for rule in self._rules:
                rule.matched = int(matched.get(str(rule.id).encode(), 0))
            return list(self._rules)


class SharedAccounts(Accounts):
    """`accounts.Accounts` over the shared store (see the module)."""

    def __init__(
        self,
        redis: Any,
        prefix: str,
        clock: Any,
        check: Any = None,
        lane: Lane | None = None,
        **values: Any,
    ) -> None:
        super().__init__(clock, **values)
        self.redis, self._check = redis, check  # `Shared.check`: before every call
        self._lane = lane or Lane(redis)
        self._balance_key, self._limit_key = f"{prefix}:acct:balances", f"{prefix}:acct:limit"
        self._conf = f"{prefix}:conf"
        self._window, self._count = f"{prefix}:acct:rl:", f"{prefix}:acct:rl:n"
        self._spend = redis.register_script(_SPEND)
        self._refund = redis.register_script(_REFUND)
        self._admit = redis.register_script(_ADMIT)
        self._any = True  # balances set on the store, as far as this process knows
        self.heard_limit()  # another process's changes hold here too

    def _default(self) -> str:
        return "none" if self.default_credits is None else repr(float(self.default_credits))

    def set_balance(self, token: str, credits: float | None) -> None:
        value = "none" if credits is None else repr(float(credits))
        self._any = True
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._balance_key, token, value)
            pipe.incr(self._conf)  # the others' next call sees there are balances now
            pipe.execute()

    def balance(self, token: str) -> float | None:
        value = self.redis.hget(self._balance_key, token)
        if value is None:
            return self.default_credits
        return None if value == b"none" else float(value)

    def balances(self) -> dict[str, float | None]:
        return {
            k.decode(): None if v == b"none" else float(v)
            for k, v in self.redis.hgetall(self._balance_key).items()
        }

    def spend(self, token: str) -> float:
        if self.default_credits is None and not self._any:
            return 0.0  # unlimited for everyone (the default): nothing to count
        if isinstance(token, PaidToken):
            return 0.0  # paid per call (x402)
        args = [token, self._default(), repr(self.video_cost)]
        spent = float(self._lane.script(self._spend, [self._balance_key], args))
        if spent < 0:
            raise ApiError("used_up")
        return spent

    def refund(self, token: str, credits: float) -> None:
        self._refund(keys=[self._balance_key], args=[token, self._default(), repr(credits)])

    def set_rate_limit(self, limit: tuple[int, float] | None) -> None:
        self.rate_limit = limit
        with self.redis.pipeline(transaction=True) as pipe:
            if limit is None:
                pipe.set(self._limit_key, "none")
            else:
                pipe.set(self._limit_key, f"{limit[0]}/{limit[1]!r}")
            for key in self.redis.scan_iter(match=f"{self._window}*", count=1000):
                pipe.delete(key)
            pipe.incr(self._conf)
            pipe.execute()

    def heard_limit(self) -> None:
        """The limit or the balances changed through some process: read them again."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self._limit_key)
            pipe.hlen(self._balance_key)
            limit, balances = pipe.execute()
        if limit is not None:
            self.rate_limit = _limit(limit)
        self._any = balances > 0

    def admit(self, token: str) -> None:
        if self._check is not None:
            self._check()  # rules or limit changed through another process: read them
        limit = self.rate_limit
        if limit is None:
            return
        count, per = limit
        now = self.clock.now()
        keys, args = [self._window + token, self._count], [repr(now), count, repr(per)]
        oldest = self._lane.script(self._admit, keys, args)
        if oldest is not None:
            wait = max(1, math.ceil(float(oldest) + per - now))
            raise ApiError("too_many_requests", headers={"Retry-After": str(wait)})

    def clear(self) -> None:
        self._any = False
        self.redis.delete(self._balance_key)
        for key in self.redis.scan_iter(match=f"{self._window}*", count=1000):
            self.redis.delete(key)


def _limit(raw: bytes) -> tuple[int, float] | None:
    if raw == b"none":
        return None
    count, per = raw.decode().split("/")
    return int(count), float(per)
