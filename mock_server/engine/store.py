"""Where a fake keeps its state: the one interface (`Store`) the engine calls, whichever
store the settings name (``--store``) — in memory (`memory.MemoryStore`, the default),
or shared by every process on one Redis (`shared.Shared`, ``--store redis://…``).

A store makes the parts that hold state (each dialect's tasks and callback deliveries,
the process's rule book, journal, accounts and payments' ledger, its seed and its clock)
and decides the few steps whose *how* differs: keeping a task, planning its end and its
start, ending it, and what a reset, a close, a wait or an unreachable store mean. The
engine calls these unconditionally; a step that is nothing in memory is an empty method there.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from .accounts import Accounts
from .clock import Clock, ManualClock, RealClock
from .errors import ApiError
from .journal import Journal
from .memory import MemoryStore
from .payments import Ledger
from .scenarios import Scenarios
from .scheduler import Scheduler
from .tasks import Task, TaskState, TaskStore


class Store(Protocol):
    """What the engine asks of the store its state lives in (`memory`, `shared`)."""

    @property
    def clock(self) -> Clock:
        """The process's clock (on a shared store, a manual one lives in the store)."""
        ...

    @property
    def clock_start(self) -> float:
        """Where a reset puts a manual clock back."""
        ...

    def tasks(self, dialect: str, max_tasks: int) -> TaskStore:
        """The tasks of the dialect named ``dialect``."""
        ...

    def callbacks(
        self,
        dialect: str,
        scheduler: Scheduler,
        clock: Clock,
        retry: Any,
        targets: Any,
        max_deliveries: int,
    ) -> Any:
        """The callback deliveries of the dialect named ``dialect`` (a
        `callbacks.CallbackDispatcher`, or one with its methods)."""
        ...

    def scenarios(self) -> Scenarios:
        """The process's one rule book (each dialect made known to it as its engine is
        made, `Scenarios.speak`)."""
        ...

    def journal(self, limit: int) -> Journal: ...

    def accounts(self, clock: Clock, **values: Any) -> Accounts: ...

    def ledger(self, starting: int | None) -> Ledger:
        """The pay-per-call payments' nonces and balances (``serve --x402``), each new
        payer starting with ``starting`` atomic units (None: unlimited)."""
        ...

    def seed(self, settings: Any) -> Any:
        """The seed of the process's one random source."""
        ...

    def loads_rules(self) -> bool:
        """Whether this process loads the configured rules (on a shared store, only the
        first process does: a later one keeps the book it finds)."""
        ...

    def attach(self, fake: Any) -> None:
        """The process's fake (`fake.Fake`), with its engines: the store may run their
        due events now. Called again as engines are added: harmless."""
        ...

    def add_task(self, store: TaskStore, task: Task, error: ApiError | None) -> None:
        """Keep a new task (called under the engine's lock)."""
        ...

    def schedule_end(self, engine: Any, task: Task, error: ApiError | None) -> None:
        """Plan the end of a task just added (outside the lock: an instant task may end
        right here)."""
        ...

    def start_at(self, engine: Any, task: Task) -> None:
        """Plan the callback sent when ``task`` leaves the queue (`Engine._started`)."""
        ...

    def end(
        self,
        engine: Any,
        task: Task,
        state: TaskState,
        at: float,
        result: Any,
        error: ApiError | None,
    ) -> bool:
        """End ``task`` in its store; False if it had ended (here or elsewhere)."""
        ...

    def ended(self, engine: Any, task: Task) -> None:
        """After a task with a callback ended here, outside the lock: send the callback
        (unless the end made it already)."""
        ...

    def run_due(self, until: float | None = None) -> int:
        """On a manual clock, run the store's own events due by ``until`` (default: now;
        `Control.catch_up`); how many ran."""
        ...

    def listening(self) -> AbstractContextManager[Any]:
        """Held while someone in this process waits: other processes tell it of theirs."""
        ...

    def unavailable(self, error: Exception) -> ApiError | None:
        """The answer for a call that failed on ``error`` if that is the store out of
        reach, else None."""
        ...

    def reset(self) -> None:
        """The store's part of the fake's reset (after the engines' parts were cleared)."""
        ...

    def close(self) -> None:
        """The store's part of the fake's close (idempotent)."""
        ...


def open_store(settings: Any, clock: Clock | None = None) -> Store:
    """The store ``settings.store`` names: ``memory`` (with ``clock``, or a clock of the
    settings' kind), or a Redis URL (redis-py is imported only then)."""
    if settings.store == "memory":
        if clock is None:
            clock = ManualClock() if settings.clock == "manual" else RealClock()
        return MemoryStore(clock)
    from .shared import Shared

    return Shared.open(settings.store, manual=settings.clock == "manual")
