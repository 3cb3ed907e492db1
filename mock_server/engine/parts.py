"""What an engine is made of — clock, scheduler, tasks, callbacks, rule book, journal,
accounts, delays — each made by the store the settings name (`store`: in memory, or
shared on Redis with ``--store redis://…``), or its elder's: a sibling engine, serving
a second dialect in one process, shares all but its tasks, callbacks and dialect (see
`service.Engine.sibling`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

from .accounts import Accounts, parse_rate_limit
from .callbacks import RetryPolicy, TargetPolicy
from .changes import Changes
from .clock import Clock
from .config import Settings
from .delays import DelayModel
from .dialect import Dialect
from .journal import Journal
from .scenarios import Scenarios
from .scheduler import Scheduler
from .store import Store, open_store
from .tasks import TaskStore


@dataclass
class Parts:
    """One engine's parts; a sibling's `assemble` takes its elder's."""

    settings: Settings
    backing: Store  # where the state lives (`store`)
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
    the tasks and callbacks, which are the dialect's own); else the store's the settings
    name. ``clock`` and ``store``, given, are used."""
    settings = settings or (elder.settings if elder is not None else Settings())
    backing = elder.backing if elder is not None else open_store(settings, clock)
    if clock is None:
        clock = elder.clock if elder is not None else backing.clock
    scheduler = elder.scheduler if elder is not None else Scheduler(clock)
    kept = settings.max_tasks
    if store is None:
        store = backing.tasks(dialect.name, kept)
    retry = dialect.callback_retry or RetryPolicy(
        retries=settings.callback_retries,
        backoff=settings.callback_backoff,
        timeout=settings.callback_timeout,
    )
    retry = retry.with_values(settings.dialect_callbacks.get(dialect.name, {}))
    targets = TargetPolicy(settings.callback_allow)
    callbacks = backing.callbacks(dialect.name, scheduler, clock, retry, targets, kept)
    # A rule may name only its dialects' endpoints (Settings cannot check that: it
    # knows no dialect).
    routes = [*dialect.routes.values(), *dialect.route_templates.values()]
    endpoints = tuple(dict.fromkeys(e for route in routes for e in route.endpoints()))
    if elder is not None:
        elder.scenarios.speak(dialect.name, endpoints)
        return replace(elder, store=store, callbacks=callbacks)
    # One seeded source per process: siblings' ids never repeat each other's, nor
    # (seeded by the store's number for the process) other processes' on one store.
    seed = backing.seed(settings)
    # One rule book, one journal and one set of accounts per process (a token's credit
    # and rate limit are the token's, whichever API it calls); on a shared store, one
    # for every process on it.
    scenarios = backing.scenarios(endpoints, dialect.name)
    journal = backing.journal(settings.journal_limit)
    values: dict[str, Any] = {
        "credits": settings.credits,
        "video_cost": settings.video_cost,
        "rate_limit": parse_rate_limit(settings.rate_limit),
    }
    accounts = backing.accounts(clock, **values)
    return Parts(
        settings=settings,
        backing=backing,
        clock=clock,
        clock_start=backing.clock_start,
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
