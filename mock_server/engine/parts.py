"""What an engine is made of — clock, scheduler, tasks, callbacks, rule book, journal,
accounts, delays — each of the in-memory kind, of the shared store's (``--store
redis://…``, see `shared`), or its elder's: a sibling engine, serving a second dialect in
one process, shares all but its tasks, callbacks and dialect (see `service.Engine.sibling`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

from .accounts import Accounts, parse_rate_limit
from .callbacks import CallbackDispatcher, RetryPolicy, TargetPolicy
from .changes import Changes
from .clock import Clock, ManualClock, RealClock
from .config import Settings
from .delays import DelayModel
from .dialect import Dialect
from .journal import Journal
from .scenarios import Scenarios
from .scheduler import Scheduler
from .shared import Shared, open_shared
from .tasks import InMemoryTaskStore, TaskStore


@dataclass
class Parts:
    """One engine's parts; a sibling's `assemble` takes its elder's."""

    settings: Settings
    shared: Shared | None
    clock: Clock
    clock_start: float  # where a reset puts a manual clock back
    scheduler: Scheduler
    store: TaskStore
    callbacks: Any  # a CallbackDispatcher, or the shared store's (same methods)
    rng_seed: Any
    rng: random.Random
    scenarios: Scenarios
    journal: Journal
    changes: Changes
    accounts: Accounts
    delays: DelayModel


def assemble(
    dialect: Dialect,
    settings: Settings | None,
    *,
    clock: Clock | None = None,
    store: TaskStore | None = None,
    elder: Parts | None = None,
) -> Parts:
    """The parts of an engine speaking ``dialect``: its elder's where it has one (all but
    the tasks and callbacks, which are the dialect's own); else the shared store's, when
    the settings name one; else in memory. ``clock`` and ``store``, given, are used."""
    settings = settings or (elder.settings if elder is not None else Settings())
    shared = elder.shared if elder is not None else open_shared(settings)
    if clock is None:
        if shared is not None:
            clock = shared.clock
        elif elder is not None:
            clock = elder.clock
        else:
            clock = ManualClock() if settings.clock == "manual" else RealClock()
    scheduler = elder.scheduler if elder is not None else Scheduler(clock)
    kept = settings.max_tasks
    if store is None:
        store = InMemoryTaskStore(kept) if shared is None else shared.tasks(dialect, kept)
    retry = dialect.callback_retry or RetryPolicy(
        retries=settings.callback_retries,
        backoff=settings.callback_backoff,
        timeout=settings.callback_timeout,
    )
    retry = retry.with_values(settings.dialect_callbacks.get(dialect.name, {}))
    targets = TargetPolicy(settings.callback_allow)
    callbacks = (
        CallbackDispatcher(scheduler, clock, retry, targets, max_deliveries=kept)
        if shared is None  # else every attempt a due event any process may claim
        else shared.callbacks(dialect.name, scheduler, retry, targets, kept)
    )
    # A rule may name only its dialects' endpoints (Settings cannot check that: it
    # knows no dialect).
    routes = [*dialect.routes.values(), *dialect.route_templates.values()]
    endpoints = tuple(dict.fromkeys(e for route in routes for e in route.endpoints()))
    if elder is not None:
        elder.scenarios.speak(dialect.name, endpoints)
        return replace(elder, store=store, callbacks=callbacks)
    # One seeded source per process: siblings' ids never repeat each other's, nor
    # (seeded by the store's number for the process) other processes' on one store.
    seed = settings.seed if shared is None else shared.seed(settings)
    # One rule book, one journal and one set of accounts per process (a token's credit
    # and rate limit are the token's, whichever API it calls); on a shared store, one
    # for every process on it.
    scenarios = (
        Scenarios(endpoints, dialect=dialect.name)
        if shared is None
        else shared.scenarios(endpoints, dialect.name)
    )
    limit = settings.journal_limit
    journal = Journal(limit) if shared is None else shared.journal(limit)
    values: dict[str, Any] = {
        "credits": settings.credits,
        "video_cost": settings.video_cost,
        "rate_limit": parse_rate_limit(settings.rate_limit),
    }
    accounts = Accounts(clock, **values) if shared is None else shared.accounts(clock, **values)
    return Parts(
        settings=settings,
        shared=shared,
        clock=clock,
        clock_start=clock.now() if shared is None else shared.clock_start,
        scheduler=scheduler,
        store=store,
        callbacks=callbacks,
        rng_seed=seed,
        rng=random.Random(seed),
        scenarios=scenarios,
        journal=journal,
        changes=journal.changes,  # the notices' seam (`changes`), shared by siblings
        accounts=accounts,
        delays=settings.delays,
    )
