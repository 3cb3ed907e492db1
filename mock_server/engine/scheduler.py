"""Events at times on the fake's clock, run one at a time in due order.

With a real clock a daemon thread sleeps until the next event is due. With a manual
clock nothing runs until the clock is moved, and then every event on the way runs at its
own time. With either, an event due *now* (an instant delay) runs at once, in the caller:
an instant task is done when the call that made it returns, with no hand-over to
another thread.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any

from .clock import Clock, ManualClock

log = logging.getLogger("luma_mock.scheduler")


class Scheduled(list):  # type: ignore[type-arg]
    """One event, ``[due, seq, action, *args]``, as it sits in the heap.

    A list, because lists compare in C, element by element — by due time, then by the
    order they were scheduled — and tens of thousands of events are pending under load:
    a Python-level comparison per heap step was a hot spot, and so was an object or two
    more per event for the collector to scan.
    """

    __slots__ = ()

    @property
    def due(self) -> float:
        return self[0]

    @property
    def cancelled(self) -> bool:
        return self[2] is None

    def cancel(self) -> None:
        """Make the event a no-op when its time comes."""
        self[2] = None

    def run(self) -> None:
        action = self[2]
        if action is not None:
            action(*self[3:])


class Scheduler:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._heap: list[Scheduled] = []
        self._held: list[Scheduled] = []  # due now, but waiting for release() or a move
        self._seq = itertools.count()
        self._cond = threading.Condition()
        # One runner at a time, so events run strictly in due order; re-entrant because
        # an event may schedule another one that is due at once.
        self._running = threading.RLock()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.manual = isinstance(clock, ManualClock)
        if isinstance(clock, ManualClock):
            clock.attach(self)
        else:
            self._thread = threading.Thread(target=self._tick, name="luma-scheduler", daemon=True)
            self._thread.start()

    def at(
        self, due: float, action: Callable[..., None], *args: Any, now: bool = True
    ) -> Scheduled:
        """Run ``action(*args)`` at ``due``. An event already due runs at once, here —
        unless ``now`` is False: then, with a manual clock, it waits for the next move of
        the clock or `run_due`, and with a real one for the scheduler's thread (so a
        callback is not sent before the call that caused it has been answered)."""
        item = Scheduled((due, next(self._seq), action, *args))
        held = not now and self.manual and due <= self.clock.now()
        with self._cond:
            if held:
                self._held.append(item)
                return item
            heapq.heappush(self._heap, item)
            if self._heap[0] is item:
                self._cond.notify()
        if now and due <= self.clock.now():
            self.run_due()
        return item

    def release(self) -> int:
        """Run the events held back by ``at(..., now=False)`` (and anything else due)."""
        self._unhold()
        return self.run_due()

    def _unhold(self) -> None:
        with self._cond:
            for item in self._held:
                heapq.heappush(self._heap, item)
            self._held.clear()

    def after(
        self, delay: float, action: Callable[..., None], *args: Any, now: bool = True
    ) -> Scheduled:
        return self.at(self.clock.now() + max(0.0, delay), action, *args, now=now)

    def pending(self) -> int:
        with self._cond:
            return sum(1 for item in self._heap if not item.cancelled)

    def next_due(self) -> float | None:
        with self._cond:
            live = [item.due for item in self._heap if not item.cancelled]
        return min(live) if live else None

    def clear(self) -> None:
        with self._cond:
            self._heap.clear()
            self._held.clear()
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _pop_due(self, until: float) -> Scheduled | None:
        with self._cond:
            heap = self._heap
            while heap and heap[0][2] is None:  # cancelled
                heapq.heappop(heap)
            if heap and heap[0][0] <= until:
                return heapq.heappop(heap)
            return None

    def _run(self, item: Scheduled) -> None:
        try:
            item.run()
        except Exception:  # an event must never take the scheduler down with it
            log.exception("scheduled event failed")

    def run_due(self) -> int:
        """Run every event due by now; returns how many ran.

        If another thread is already running events it will run these too, so this
        returns at once instead of waiting for it: a callback receiver that calls the
        fake back while a manual clock is being moved must not deadlock.
        """
        ran = 0
        while self._running.acquire(blocking=False):
            try:
                while (item := self._pop_due(self.clock.now())) is not None:
                    self._run(item)
                    ran += 1
            finally:
                self._running.release()
            if not self._has_due(self.clock.now()):  # anything pushed while we held it?
                break
        return ran

    def run_until(self, when: float) -> None:
        """ManualClock's driver: step the clock through each due event up to ``when``."""
        assert isinstance(self.clock, ManualClock)
        with self._running:
            while True:
                self._unhold()  # moving time releases what was held back, event by event
                item = self._pop_due(when)
                if item is None:
                    break
                self.clock._step_to(item.due)
                self._run(item)
            self.clock._step_to(when)
        self.run_due()

    def _has_due(self, until: float) -> bool:
        with self._cond:
            while self._heap and self._heap[0][2] is None:  # cancelled
                heapq.heappop(self._heap)
            return bool(self._heap) and self._heap[0][0] <= until

    def _tick(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0][0] - self.clock.now()
                if wait > 0:
                    # Capped: a wait too long for the OS would kill this thread, and the
                    # head is looked at again anyway when anything is scheduled.
                    self._cond.wait(timeout=min(wait, 3600.0))
                    continue
            self.run_due()
