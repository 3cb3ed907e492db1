"""The manual clock of every process on a shared store, and its driver."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol

from ..clock import ManualClock
from .due import DueEvent
from .notes import PREFIX, again, blinks

_STEP = """
local now = redis.call('GET', KEYS[1])
if (not now) or tonumber(ARGV[1]) > tonumber(now) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""


class Mover(Protocol):
    """What the clock asks of the process's handle (`handle.Shared`)."""

    redis: Any
    due: Any

    def note(self, *words: str) -> None: ...
    def run(self, event: DueEvent) -> None: ...


class SharedDriver:
    """A shared manual clock's driver: shared events and this process's own, each at its
    own time, in due order."""

    def __init__(self, shared: Mover, scheduler: Any) -> None:
        self.shared, self.scheduler = shared, scheduler

    def run_until(self, when: float) -> None:
        clock = self.shared.clock
        assert isinstance(clock, SharedManualClock)
        while events := self.shared.due.claim(when, limit=1):
            event = events[0]
            self.scheduler.run_until(event.due)  # this process's events before it
            clock._step_to(event.due)
            self.shared.run(event)
        self.scheduler.run_until(when)


class SharedManualClock(ManualClock):
    """The manual clock of every process on the store: read from Redis, moved under a
    Redis lock (a mover that dies frees it after ``LOCK_SECONDS``)."""

    LOCK_SECONDS = 60.0

    def __init__(self, shared: Mover) -> None:
        super().__init__()
        self.redis = shared.redis
        self._shared = shared
        self._key, self._start = f"{PREFIX}:clock", f"{PREFIX}:clock:start"
        self.redis.set(self._key, repr(time.time()), nx=True)  # the first process's now
        self.redis.set(self._start, self.redis.get(self._key), nx=True)
        self.start = float(self.redis.get(self._start))
        self._step = self.redis.register_script(_STEP)
        self._depth = 0  # moves in progress in this process (an event may move it again)

    def now(self) -> float:
        value = self.redis.get(self._key)
        if value is None:  # a Redis that restarted empty: a fresh fake's clock, from now
            self.redis.set(self._key, repr(time.time()), nx=True)
            value = self.redis.get(self._key)
        return float(value)

    @contextlib.contextmanager
    def _moving_everywhere(self) -> Iterator[None]:
        with self._moving:
            lock = None
            if self._depth == 0:
                lock = self.redis.lock(  # one per move: its token may be freed on a thread
                    f"{PREFIX}:clock:lock", timeout=self.LOCK_SECONDS, thread_local=False
                )
                lock.acquire(blocking=True)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if lock is not None:
                    self._release(lock)
        if lock is not None:
            self._shared.note("clock")

    def _release(self, lock: Any) -> None:
        """Free the clock for the other processes' moves. A move cut short by a blink of
        Redis must not leave it taken for ``LOCK_SECONDS`` (every move anywhere would
        wait that long): it is freed as soon as Redis answers again."""
        try:
            lock.release()
        except blinks():
            deadline = time.monotonic() + self.LOCK_SECONDS  # it frees itself by then

            def release_later() -> None:
                with contextlib.suppress(Exception):  # expired: another may hold it
                    again(lock.release, deadline)

            threading.Thread(target=release_later, daemon=True).start()
        except Exception:  # expired: another may hold it now
            pass

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._moving_everywhere():  # two advances anywhere add up, not overlap
            return self.set(self.now() + seconds)

    def set(self, when: float) -> float:
        with self._moving_everywhere():
            if when < self.now():
                raise ValueError("a clock does not go backwards")
            if self._driver is not None:
                self._driver.run_until(when)
            self._step_to(when)
            return self.now()

    def reset(self, when: float) -> None:
        self.redis.set(self._key, repr(float(when)))

    def _step_to(self, when: float) -> None:
        self._step(keys=[self._key], args=[repr(float(when))])
