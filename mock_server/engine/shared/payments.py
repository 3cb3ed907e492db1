"""The ledger of pay-per-call payments on a shared Redis store (`payments.Ledger`): every
process on the store sees one set of nonces and balances, so one envelope sent to two
processes at the same moment is claimed once.

Keys, under the store's prefix: ``x402:nonces`` (claim key -> ``nonce_held`` or
``nonce_spent``), ``x402:balances`` (payer -> atomic units, or ``-`` for unlimited),
``x402:payments`` (the log, JSON, trimmed), ``x402:refusals`` (a scripted reason and
how many payments it still refuses). Each step is one Lua script: Redis runs a script
alone, so a claim's check of the nonce and the balance and its holding of both cannot
interleave with another process's claim.
"""

from __future__ import annotations

import json
from typing import Any

from ..payments import (
    INSUFFICIENT,
    NONCE_HELD,
    NONCE_SPENT,
    PAYMENTS_KEPT,
    Claim,
    LedgerRefusal,
)
from .lane import Lane

_UNLIMITED = "-"

# KEYS: nonces, balances. ARGV: claim key, payer, amount, each payer's starting balance.
_CLAIM = f"""
local state = redis.call('HGET', KEYS[1], ARGV[1])
if state then return state end
local balance = redis.call('HGET', KEYS[2], ARGV[2]) or ARGV[4]
if balance ~= '{_UNLIMITED}' then
  if tonumber(balance) < tonumber(ARGV[3]) then return '{INSUFFICIENT}' end
  redis.call('HSET', KEYS[2], ARGV[2], string.format('%d', tonumber(balance) - tonumber(ARGV[3])))
end
redis.call('HSET', KEYS[1], ARGV[1], '{NONCE_HELD}')
return 'ok'
"""

# KEYS: nonces, balances. ARGV: claim key, payer, amount, starting balance.
_RELEASE = f"""
if redis.call('HGET', KEYS[1], ARGV[1]) ~= '{NONCE_HELD}' then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
local balance = redis.call('HGET', KEYS[2], ARGV[2]) or ARGV[4]
if balance ~= '{_UNLIMITED}' then
  redis.call('HSET', KEYS[2], ARGV[2], string.format('%d', tonumber(balance) + tonumber(ARGV[3])))
end
return 1
"""

# KEYS: the log. ARGV: the payment's JSON, how many to keep.
_LOG = """
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
return 1
"""

# KEYS: refusals. The scripted reason if one is left, counting it; else false.
_TAKE = """
local left = tonumber(redis.call('HGET', KEYS[1], 'count') or '0')
if left <= 0 then return false end
redis.call('HSET', KEYS[1], 'count', left - 1)
return redis.call('HGET', KEYS[1], 'reason')
"""


class RedisLedger:
    """`payments.Ledger` over a shared store (see the module)."""

    def __init__(self, redis: Any, prefix: str, starting: int | None, lane: Lane) -> None:
        self.redis, self._lane = redis, lane
        self.starting = starting
        self._starting = _UNLIMITED if starting is None else str(starting)
        self._nonces = f"{prefix}:x402:nonces"
        self._balances = f"{prefix}:x402:balances"
        self._log = f"{prefix}:x402:payments"
        self._refusals = f"{prefix}:x402:refusals"
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)
        self._append = redis.register_script(_LOG)
        self._take = redis.register_script(_TAKE)

    def _args(self, claim: Claim) -> list[Any]:
        return [claim.key, claim.payer, claim.amount, self._starting]

    def claim(self, claim: Claim) -> None:
        keys = [self._nonces, self._balances]
        answer = _text(self._lane.script(self._claim, keys, self._args(claim)))
        if answer != "ok":
            raise LedgerRefusal(answer)

    def settle(self, claim: Claim) -> None:
        self._lane.call("HSET", self._nonces, claim.key, NONCE_SPENT)

    def release(self, claim: Claim) -> None:
        keys = [self._nonces, self._balances]
        self._lane.script(self._release, keys, self._args(claim))

    def set_balance(self, payer: str, units: int | None) -> None:
        self.redis.hset(self._balances, payer, _UNLIMITED if units is None else units)

    def balance(self, payer: str) -> int | None:
        return _units(self.redis.hget(self._balances, payer), self.starting)

    def balances(self) -> dict[str, int | None]:
        known = self.redis.hgetall(self._balances)
        return {_text(payer): _units(units, None) for payer, units in known.items()}

    def log(self, payment: dict[str, Any]) -> None:
        self._lane.script(self._append, [self._log], [json.dumps(payment), PAYMENTS_KEPT])

    def payments(self) -> list[dict[str, Any]]:
        return [json.loads(item) for item in self.redis.lrange(self._log, 0, -1)]

    def script_refusals(self, reason: str, count: int) -> None:
        self.redis.hset(self._refusals, mapping={"reason": reason, "count": count})

    def scripted_refusal(self) -> str | None:
        reason = self._lane.script(self._take, [self._refusals], [])
        return None if reason is None else _text(reason)

    def clear(self) -> None:
        self.redis.delete(self._nonces, self._balances, self._log, self._refusals)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _units(value: Any, missing: int | None) -> int | None:
    if value is None:
        return missing
    text = _text(value)
    return None if text == _UNLIMITED else int(text)
