"""Time as the fake sees it.

Every timestamp in a task record and every due time in the scheduler comes from one
`Clock`. `RealClock` follows the wall clock; `ManualClock` moves only when told, so a test
can play a two-minute generation in no wall-clock time and still see consistent records.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch, as the fake sees them."""
        ...


class RealClock:
    manual = False

    def now(self) -> float:
        return time.time()


class TimeDriver(Protocol):
    """What a ManualClock hands its moves to, so that events fall due in order."""

    def run_until(self, when: float) -> None: ...


class ManualClock:
    """A clock that stands still until `advance` or `set` moves it.

    Moving it runs every event that falls due on the way, each at its own time (the clock
    reads the event's due time while the event runs), so records and callbacks come out
    exactly as they would have in real time.
    """

    manual = True

    def __init__(self, start: float | None = None) -> None:
        self._now = float(start if start is not None else time.time())
        self._lock = threading.Lock()
        self._moving = threading.RLock()  # one move at a time (events may move it again)
        self._driver: TimeDriver | None = None

    def now(self) -> float:
        return self._now

    def attach(self, driver: TimeDriver) -> None:
        self._driver = driver

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._moving:  # two advances at once must add up, not overlap
            return self.set(self._now + seconds)

    def set(self, when: float) -> float:
        """Move to ``when`` (never backwards), running what falls due on the way."""
        with self._moving:
            if when < self._now:
                raise ValueError("a clock does not go backwards")
            if self._driver is not None:
                self._driver.run_until(when)
            self._step_to(when)
            return self._now

    def reset(self, when: float) -> None:
        """Put the clock back to ``when`` (the fake's reset; nothing runs)."""
        with self._lock:
            self._now = float(when)

    def _step_to(self, when: float) -> None:
        """Used by the driver while it runs events: move without running anything."""
        with self._lock:
            self._now = max(self._now, when)
