"""`Fake`: one process's fake — an engine per dialect it serves, as equals, and what they
share: the settings, the store (`store`), the clock and scheduler, the seeded source,
the rule book, the journal, the accounts, the payments' ledger and the delays.

Why an engine per dialect rather than one engine holding several: what a task *is* (its
record, its media, its callback body) is its dialect's, and the engine renders a task
through ``engine.dialect`` in a dozen places; one engine holding several dialects would
tag every task and thread the dialect through each of them. So each engine keeps its
own tasks and callback deliveries, and everything else is the fake's: one clock moves
every dialect's tasks, one journal shows every call, a token's credit is one balance
whichever API it calls, no id repeats across dialects, and a reset or close is the
whole fake's. No dialect is the root: the HTTP layer asks the fake for every engine's
routes, and for the dialect that answers a path no engine claims (`dialect_of`).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from typing import Any

from .accounts import parse_rate_limit
from .changes import CLOCK, CLOSED, RESET, RULES
from .clock import Clock, ManualClock
from .config import Settings
from .delays import DelayModel, parse_delays
from .dialect import Dialect, answering
from .payments import usdc_units
from .scheduler import Scheduler
from .service import Engine
from .store import open_store
from .tasks import TaskStore


class Fake:
    """The engines of one process, made from ``dialects`` in order (their registry's),
    on the store and clock the settings name (``clock``, given, is used instead)."""

    def __init__(
        self,
        dialects: Iterable[Dialect] = (),
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings = settings or Settings()
        self.backing = open_store(settings, clock)
        self.clock = clock = clock or self.backing.clock
        self.clock_start = self.backing.clock_start  # where a reset puts a manual clock
        self.scheduler = Scheduler(clock)
        # One seeded source per process: no two dialects' ids repeat each other's, nor
        # (seeded by the store's number for the process) other processes' on one store.
        self.rng_seed = self.backing.seed(settings)
        self.rng = random.Random(self.rng_seed)
        # One rule book, one journal and one set of accounts (a token's credit and rate
        # limit are the token's, whichever API it calls); on a shared store, one for every
        # process on it. Each dialect is made known to the book as its engine is made.
        self.scenarios = self.backing.scenarios()
        self.scenarios.on_change = self._rules_changed
        self.journal = self.backing.journal(settings.journal_limit)
        self.changes = self.journal.changes  # the notices' seam (`changes`)
        self.accounts = self.backing.accounts(
            clock,
            credits=settings.credits,
            video_cost=settings.video_cost,
            rate_limit=parse_rate_limit(settings.rate_limit),
        )
        # Pay-per-call payments (``--x402``): made whether or not the gateway is on (a
        # ledger nobody claims from costs nothing), so a reset always finds one to clear.
        balance = settings.x402_balance
        self.ledger = self.backing.ledger(None if balance is None else usdc_units(balance))
        self.delays: DelayModel = settings.delays  # a control call may change them
        self.configured_rules = settings.scenarios
        self.engines: dict[str, Engine] = {}  # by dialect name, in the order made
        self._lock = threading.Lock()
        for dialect in dialects:
            Engine(self, dialect)
        self.scenarios.check_dialects()  # a configured rule may name any of them
        self.attach()

    def add(self, dialect: Dialect, *, store: TaskStore | None = None) -> Engine:
        """One more dialect, served beside the others (its tasks in ``store``, given)."""
        engine = Engine(self, dialect, store=store)
        self.attach()
        return engine

    def attach(self) -> None:
        """Let the store run the engines' due events (once there are engines to run them:
        an event of a dialect not served yet would wait out its lease). Again is harmless."""
        if self.engines:
            self.backing.attach(self)

    def joined(self, engine: Engine, endpoints: tuple[str, ...]) -> None:
        """``engine`` was made for this fake (`Engine.__init__` says so): keep it, make its
        dialect's endpoints known to the rule book, and load the configured rules — now
        that a rule may name this dialect — unless another process on the store did."""
        name = engine.dialect.name
        if name in self.engines:
            raise ValueError(f"the dialect {name!r} is served already")
        self.engines[name] = engine
        self.scenarios.speak(name, endpoints)
        if (len(self.engines) == 1 or self.configured_rules) and self.backing.loads_rules():
            self.load_rules()

    # -- which engine ---------------------------------------------------------------

    def engine_for(self, task_id: str) -> Engine | None:
        """The engine whose task ``task_id`` is (None if no engine has it)."""
        for engine in self.engines.values():
            if engine.store.get(task_id) is not None:
                return engine
        return None

    def dialect_of(self, path: str) -> Dialect:
        """The dialect that answers ``path`` (`dialect.answering`): the one whose prefix
        it is under, else the first that owns no prefix."""
        return answering([engine.dialect for engine in self.engines.values()], path)

    # -- the whole fake's control side ------------------------------------------------

    def load_rules(self) -> None:
        """The configured rules, in order, and no others (a rule naming a dialect not
        served yet is kept: `Scenarios.check_dialects` refuses it once all are)."""
        self.scenarios.clear()
        for rule in self.configured_rules or ():
            self.scenarios.add(rule, more_dialects=True)

    def advance(self, seconds: float) -> float:
        """Move a manual clock; tasks progress and callbacks fire on the way."""
        if not isinstance(self.clock, ManualClock):
            raise ValueError(
                "only a manual clock can be moved (start the fake with --clock manual)"
            )
        now = self.clock.advance(seconds)
        self.changes.publish(CLOCK, now)
        return now

    def set_delays(self, spec: Any) -> DelayModel:
        """Change how long new tasks take, for every dialect (a preset, seconds, or a
        table as in the config file); reset restores the configured delays."""
        self._use_delays(spec if isinstance(spec, DelayModel) else parse_delays(spec))
        return self.delays

    def _use_delays(self, delays: DelayModel) -> None:
        self.delays = delays
        for engine in self.engines.values():  # each reads its own: one lookup a task
            engine.delays = delays

    def reset(self) -> None:
        """Back to the fake as it started: no tasks, callbacks, journal or payments, the
        configured rules, balances and rate limit only, the clock at its start, the same
        seed. Calls held at the time are answered with an error."""
        with self._lock:
            self.scheduler.clear()
            waits = [wake for engine in self.engines.values() for wake in engine.clear()]
            self.journal.clear()
            self.accounts.clear()
            self.accounts.set_rate_limit(parse_rate_limit(self.settings.rate_limit))
            self.ledger.clear()
            self.load_rules()
            self.rng.seed(self.rng_seed)
            self._use_delays(self.settings.delays)
            if isinstance(self.clock, ManualClock):
                self.clock.reset(self.clock_start)
            self.backing.reset()  # a shared store's due events and epoch; tells the others
        for engine in self.engines.values():
            engine.wake_waiters()
        for wake in waits:
            wake.set()
        self.changes.publish(RESET)

    def close(self) -> dict[str, int]:
        """Stop: release held requests and say what was dropped."""
        running = sum(engine.closing() for engine in self.engines.values())
        self.scheduler.close()
        self.backing.close()
        dropped = sum(len(engine.callbacks.close()) for engine in self.engines.values())
        self.changes.publish(CLOSED)
        return {"running_tasks": running, "undelivered_callbacks": dropped}

    def _rules_changed(self) -> None:
        self.changes.publish(RULES)  # the process's one rule book: no dialect's own
