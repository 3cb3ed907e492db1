"""The notes processes on one shared store send each other (pub/sub): the keys, and the
Lua fragment the scripts use to tell only the processes that listen (see `shared`); and
the one other fragment two modules' scripts share (`SEND`, a callback's delivery); and
how a step that must not be forgotten is tried again across a blink of Redis (`again`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
BACKOFF = (0.05, 1.0)  # seconds: the first wait between tries after a blink, and the most

PREFIX = "luma-mock"  # every key of a shared store starts so
LISTENING = f"{PREFIX}:listening"  # hash: processes with someone waiting or watching
CHANNEL = f"{PREFIX}:notes"
# The due queue's keys that other scripts add to (see `due`).
DUE, DUE_EVENTS, DUE_TIMES = f"{PREFIX}:due", f"{PREFIX}:events", f"{PREFIX}:dues"
# Publish a note only when a process other than this one (the last ARGV, its origin)
# listens: the last two KEYS are the listening hash and the channel. No self-echo: a
# process tells its own waiters itself.
TELL = """
local function tell(message)
  local listening, origin = KEYS[#KEYS - 1], ARGV[#ARGV]
  local n = redis.call('HLEN', listening)
  if n > 1 or (n == 1 and redis.call('HEXISTS', listening, origin) == 0) then
    redis.call('PUBLISH', KEYS[#KEYS], origin .. ' ' .. message)
  end
end
"""

# A callback's delivery (the keys of `callbacks`) and its first attempt's due event, made
# once per key: a Lua function, so that a task's end makes its callback's delivery in
# the same script (`tasks`). Its keys from KEYS[k]: delivery, order, done, seq, due,
# events, dues; its arguments from ARGV[a]: key, task, url, body, epoch, max, delivery
# prefix, event id, payload, due.
SEND = """
local function send(k, a)
  if redis.call('EXISTS', KEYS[k]) == 1 then return 0 end
  redis.call('HSET', KEYS[k], 'task_id', ARGV[a + 1], 'url', ARGV[a + 2], 'body', ARGV[a + 3],
             'state', 'scheduled', 'epoch', ARGV[a + 4])
  redis.call('ZADD', KEYS[k + 1], redis.call('INCR', KEYS[k + 3]), ARGV[a])
  local n, max = redis.call('ZCARD', KEYS[k + 1]), tonumber(ARGV[a + 5])
  while n > max do
    local victim = redis.call('ZPOPMIN', KEYS[k + 2])
    if #victim == 0 then break end
    redis.call('DEL', ARGV[a + 6] .. 'cb:' .. victim[1], ARGV[a + 6] .. 'cba:' .. victim[1])
    redis.call('ZREM', KEYS[k + 1], victim[1])
    n = n - 1
  end
  redis.call('HSET', KEYS[k + 5], ARGV[a + 7], ARGV[a + 8])
  redis.call('HSET', KEYS[k + 6], ARGV[a + 7], ARGV[a + 9])
  redis.call('ZADD', KEYS[k + 4], ARGV[a + 9], ARGV[a + 7])
  return 1
end
"""


def blinks() -> tuple[type[Exception], ...]:
    """What redis-py raises when the store cannot be reached or does not answer (a
    restart, a dropped connection, a timeout; a Redis still loading its data too)."""
    from redis.exceptions import ConnectionError, TimeoutError

    return (ConnectionError, TimeoutError, OSError)


def again(step: Callable[[], T], deadline: float) -> T:
    """``step`` tried until Redis answers it, backing off exponentially (redis-py's
    `Retry`; each try has the client's own retries inside it), or until ``deadline``
    (`time.monotonic`) has passed: then the last error is raised."""
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    def until_deadline(error: Any) -> None:
        if time.monotonic() >= deadline:
            raise error

    retry = Retry(ExponentialBackoff(cap=BACKOFF[1], base=BACKOFF[0]), -1, blinks())
    return retry.call_with_retry(step, until_deadline)
