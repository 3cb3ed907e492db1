"""The notes processes on one shared store send each other (pub/sub): the keys, and the
Lua fragment the scripts use to tell only the processes that listen (see `shared`)."""

from __future__ import annotations

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
