"""The in-memory store (the default ``--store memory``): every part a plain object of
this process, and a task's end and start events on its own scheduler. See `store`."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from .accounts import Accounts
from .callbacks import CallbackDispatcher
from .clock import Clock
from .errors import ApiError
from .journal import Journal
from .payments import MemoryLedger
from .scenarios import Scenarios
from .scheduler import Scheduler
from .tasks import InMemoryTaskStore, Task, TaskState, TaskStore

# Nobody elsewhere to tell of a wait: one context that does nothing, made once.
_NOBODY: AbstractContextManager[Any] = nullcontext()


class MemoryStore:
    """One process's state, in its memory (`store.Store`)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.clock_start = clock.now()

    def tasks(self, dialect: str, max_tasks: int) -> TaskStore:
        return InMemoryTaskStore(max_tasks)

    def callbacks(
        self,
        dialect: str,
        scheduler: Scheduler,
        clock: Clock,
        retry: Any,
        targets: Any,
        max_deliveries: int,
    ) -> CallbackDispatcher:
        return CallbackDispatcher(scheduler, clock, retry, targets, max_deliveries=max_deliveries)

    def scenarios(self) -> Scenarios:
        return Scenarios()

    def journal(self, limit: int) -> Journal:
        return Journal(limit)

    def accounts(self, clock: Clock, **values: Any) -> Accounts:
        return Accounts(clock, **values)

    def ledger(self, starting: int | None) -> MemoryLedger:
        return MemoryLedger(starting)

    def seed(self, settings: Any) -> Any:
        return settings.seed

    def loads_rules(self) -> bool:
        return True  # no other process could have loaded them

    def attach(self, fake: Any) -> None:
        pass  # its scheduler runs its events

    def add_task(self, store: TaskStore, task: Task, error: ApiError | None) -> None:
        store.add(task)

    def schedule_end(self, engine: Any, task: Task, error: ApiError | None) -> None:
        engine.scheduler.at(task.ends_at, engine._on_end, task, error)

    def start_at(self, engine: Any, task: Task) -> None:
        engine.scheduler.at(task.starts_at, engine._started, task)

    def end(
        self,
        engine: Any,
        task: Task,
        state: TaskState,
        at: float,
        result: Any,
        error: ApiError | None,
    ) -> bool:
        return engine.store.end(task, state, at, result, error)

    def ended(self, engine: Any, task: Task) -> None:
        assert task.callback_url is not None
        engine.callbacks.send(task.id, task.callback_url, engine.dialect.response(task))

    def run_due(self, until: float | None = None) -> int:
        return 0  # the scheduler holds every event

    def listening(self) -> AbstractContextManager[Any]:
        return _NOBODY

    def unavailable(self, error: Exception) -> ApiError | None:
        return None  # memory is never out of reach

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass
