"""The engine's control side: what a test does to a fake besides calling it — move its
clock, end a task now, wait for a state or a callback, change delays, reset, close. The
same names serve Python tests and the HTTP control API (``/__admin/``).

A mixin of `service.Engine`, which holds the state it works on (declared below). What
is the whole fake's — the clock, the delays, the rules, reset and close — an engine
asks its fake (`fake.Fake`) to do, so any engine of a process moves, resets or closes
all of them.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .accounts import Accounts
from .callbacks import CallbackDelivery, CallbackDispatcher
from .changes import Changes
from .clock import Clock
from .config import Settings
from .delays import DelayModel
from .errors import ApiError
from .journal import Journal
from .scenarios import Scenarios
from .scheduler import Scheduler
from .store import Store
from .tasks import Task, TaskStore

if TYPE_CHECKING:
    from .fake import Fake

T = TypeVar("T")


class Control:
    """Moving time, ending tasks, waiting, reset and close, for `service.Engine`."""

    # The engine's state (set by `Engine.__init__`).
    fake: Fake  # the fake the engine is one of
    settings: Settings
    clock: Clock
    scheduler: Scheduler
    store: TaskStore
    callbacks: CallbackDispatcher
    scenarios: Scenarios
    journal: Journal
    changes: Changes
    accounts: Accounts
    rng: random.Random
    backing: Store  # where the state lives (`store`)
    delays: DelayModel
    _lock: threading.RLock
    _changed: threading.Condition
    _waiting: int
    _sync_waits: set[threading.Event]
    _closed: bool
    _views: dict[str, Callable[[Task], dict[str, Any]]]

    def _end(self, task: Task, error: ApiError | None) -> bool:
        """End ``task`` now (the engine's; False if it had ended or was reset away)."""
        raise NotImplementedError

    def task(self, task_id: str) -> Task:
        task = self.store.get(task_id)
        if task is None:
            raise ApiError("not_found", f"task {task_id!r} was not found")
        return task

    def complete(self, task_id: str) -> Task:
        """Finish a task successfully now, whatever its plan said (its callback, if
        any, is sent before this returns on a manual clock)."""
        task = self.task(task_id)
        self._end(task, None)
        self.catch_up()
        return task

    def fail(self, task_id: str, code: str = "api_error", message: str | None = None) -> Task:
        """Fail a task now with a documented error."""
        task = self.task(task_id)
        self._end(task, ApiError(code, message))
        self.catch_up()
        return task

    def load_rules(self) -> None:
        """The configured rules, in order, and no others (`Fake.load_rules`)."""
        self.fake.load_rules()

    def catch_up(self) -> None:
        """On a manual clock, run what is due now but was held back until the call that
        caused it had been answered (callbacks); a real clock's thread does it anyway."""
        if self.scheduler.manual:
            self.scheduler.release()
            self.backing.run_due()  # a shared store's events due now (callbacks), too

    def advance(self, seconds: float) -> float:
        """Move a manual clock; tasks progress and callbacks fire on the way
        (`Fake.advance`: the clock is the whole fake's)."""
        return self.fake.advance(seconds)

    def set_delays(self, spec: Any) -> DelayModel:
        """Change how long new tasks take, for every dialect of the fake (a preset,
        seconds, or a table as in the config file); reset restores the configured delays."""
        return self.fake.set_delays(spec)

    def wait_until(self, condition: Callable[[], T], timeout: float = 10.0) -> T:
        """Block until ``condition()`` is truthy, re-checking whenever a task is created
        or moves or a callback is attempted; returns its value, or raises TimeoutError
        after ``timeout`` real seconds."""
        # On a shared store, the other processes tell this one of their changes meanwhile.
        with self.backing.listening(), self._changed:
            self._waiting += 1
            try:
                value = self._changed.wait_for(condition, timeout)
            finally:
                self._waiting -= 1
        if not value:
            raise TimeoutError(f"not reached within {timeout} s")
        return value

    def wait_for_state(self, task_id: str, state: str = "finished", timeout: float = 10.0) -> Task:
        """Block until the task is in ``state`` (pending, processing, completed, failed)
        or any later one; ``finished`` means completed or failed."""
        order = ["pending", "processing", "finished"]
        target = "finished" if state in ("completed", "failed") else state
        if target not in order:
            raise ValueError(f"unknown state {state!r}")

        asked: list[str] = []

        def reached() -> Task | None:
            task = self.store.get(task_id)
            if task is None:
                return None
            now = "finished" if task.finished else task.state.value
            if now == "pending" and target != "pending" and task.id not in asked:
                # Leaving the queue is no event of its own (see `tasks`): ask for one
                # then, to look again.
                asked.append(task.id)
                self.scheduler.at(task.starts_at, self.wake_waiters)
            return task if order.index(now) >= order.index(target) else None

        task = self.wait_until(reached, timeout)
        if state in ("completed", "failed") and task.state.value != state:
            raise ValueError(f"task {task_id} ended {task.state.value}, not {state}")
        return task

    def delivery(self, task_id: str) -> CallbackDelivery | None:
        return self.callbacks.get(task_id)

    def wait_for_callback(self, task_id: str, timeout: float = 10.0) -> CallbackDelivery:
        """Block until the task's callback has been delivered, or has finally failed or
        been refused (see its ``state`` and ``attempts``)."""

        def settled() -> CallbackDelivery | None:
            delivery = self.callbacks.get(task_id)
            return delivery if delivery is not None and delivery.finished else None

        return self.wait_until(settled, timeout)

    def wake_waiters(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _heard(self, note: str) -> None:
        """The shared store changed (a task ended, the clock moved, a reset), in this
        process or another: wake whoever waits here."""
        if note == "reset":  # calls held here for tasks that are gone: answer them
            with self._lock:
                waits = list(self._sync_waits)
            for wake in waits:
                wake.set()
        with self._changed:
            self._changed.notify_all()

    def _note_change(self) -> None:
        """Wake the waiters of `wait_until` (called holding the lock)."""
        if self._waiting:
            self._changed.notify_all()

    def reset(self) -> None:
        """The whole fake back to how it started (`Fake.reset`)."""
        self.fake.reset()

    def close(self) -> dict[str, int]:
        """Stop the whole fake: release held requests and say what was dropped
        (`Fake.close`)."""
        return self.fake.close()

    def clear(self) -> list[threading.Event]:
        """This engine's part of a reset: no tasks or callbacks; the held calls' events,
        for the fake to set once the rest is reset too."""
        with self._lock:
            waits = list(self._sync_waits)
            self.callbacks.clear()
            self.store.clear()
            self._views.clear()
            self._changed.notify_all()
        return waits

    def closing(self) -> int:
        """This engine's part of a close: refuse new tasks, release held calls; how many
        of its tasks were still running."""
        with self._lock:
            self._closed = True
            running = sum(1 for t in self.store if not t.finished)
            for wake in list(self._sync_waits):
                wake.set()
        return running
