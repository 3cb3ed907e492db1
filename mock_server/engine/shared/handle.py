"""One process's handle on the shared store (see the package's docstring)."""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..clock import Clock, RealClock
from ..errors import ApiError
from .callbacks import SharedCallbacks
from .clock import SharedDriver, SharedManualClock
from .due import DueEvent, DueQueue
from .journal import RedisJournal
from .lane import Lane
from .listener import OUTAGE_RETRY, Listener
from .payments import RedisLedger
from .rules import SharedAccounts, SharedScenarios
from .tasks import CHANNEL, LISTENING, PREFIX, RedisTaskStore

log = logging.getLogger("luma_mock.store")

# The longest a real-clock runner sleeps with nothing due (it sleeps until the next due
# event or lapsing lease, and this process's own additions wake it): how late an event
# may be that another process added and did not live to run.
IDLE = 1.0
_CONF = f"{PREFIX}:conf"  # the rules' and the rate limit's version (`rules`)


class SharedEngine(Protocol):
    """What the shared state asks of an engine (`service.Engine`)."""

    @property
    def scheduler(self) -> Any: ...
    @property
    def dialect(self) -> Any: ...
    @property
    def store(self) -> Any: ...
    @property
    def callbacks(self) -> Any: ...
    def _end(self, task: Any, error: ApiError | None) -> bool: ...
    def _started(self, task: Any) -> None: ...
    def _heard(self, note: str) -> None: ...


class SharedFake(Protocol):
    """What the shared state asks of the process's fake (`fake.Fake`)."""

    @property
    def engines(self) -> dict[str, Any]: ...
    @property
    def scheduler(self) -> Any: ...
    @property
    def changes(self) -> Any: ...


class Shared:
    """One process's handle on a shared store (a `store.Store`): its clock, due queue,
    task stores (one per dialect), the runner of due events and the listener for other
    processes' notes."""

    @classmethod
    def open(cls, url: str, *, manual: bool) -> Shared:
        client, lease = cls.ping(url)
        return cls(client, manual=manual, lease=lease)

    @staticmethod
    def ping(url: str) -> tuple[Any, float]:
        """A client of the store at ``url`` that has answered, and the lease its URL
        asks for; OSError saying so if it cannot be reached, or if the libraries a shared
        store needs are not installed (they are an extra, by need)."""
        try:
            import hiredis  # noqa: F401 - `lane` packs commands with it
            import redis  # only a shared store needs it
        except ImportError as missing:
            raise OSError(
                f"a shared store needs redis-py and hiredis ({missing}): "
                "pip install 'luma-mock[redis]'"
            ) from None

        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        lease = float(query.pop("lease", 30.0))  # seconds a claim is held (see `due`)
        plain = urlunsplit(parts._replace(query=urlencode(query)))
        client = redis.Redis.from_url(plain, socket_timeout=5, socket_connect_timeout=3)
        try:
            client.ping()
        except redis.RedisError as down:
            raise OSError(f"the store {plain} cannot be reached: {down}") from None
        return client, lease

    def __init__(self, redis: Any, *, manual: bool, lease: float = 30.0) -> None:
        self.redis = redis
        self.lane = Lane(redis)  # the hot path's commands (`lane`)
        self.process_number = int(redis.incr(f"{PREFIX}:processes"))
        self.epoch = int(redis.get(f"{PREFIX}:epoch") or 0)
        self.origin = uuid.uuid4().hex  # this process, in claims and in notes
        self.due = DueQueue(redis, PREFIX, owner=self.origin, lease=lease, lane=self.lane)
        self.clock: Clock = SharedManualClock(self) if manual else RealClock()
        self.clock_start = (
            self.clock.start if isinstance(self.clock, SharedManualClock) else time.time()
        )
        self._listeners = 0  # waiters and watchers in this process (`listening`)
        self._listen_lock = threading.Lock()
        self.engines: dict[str, SharedEngine] = {}  # the fake's, by dialect (`attach`)
        self.stores: dict[str, RedisTaskStore] = {}
        self.fake: SharedFake | None = None
        self.kept_journal: RedisJournal | None = None
        self._wake = threading.Event()
        self._closed = False
        self._up = True  # last seen reachable (an outage is logged once, not per try)
        self._listener = Listener(self)
        self._scenarios: SharedScenarios | None = None
        self._accounts: SharedAccounts | None = None
        self._conf_seen: bytes | None = None
        self._conf_lock = threading.Lock()
        self._loads_rules: bool | None = None

    def tasks(self, dialect: str, max_tasks: int) -> RedisTaskStore:
        """The tasks of the dialect named ``dialect`` on this store."""
        store = RedisTaskStore(
            self.redis,
            dialect,
            max_tasks,
            self.clock,
            epoch=lambda: self.epoch,
            origin=self.origin,
            lane=self.lane,
        )
        self.stores[dialect] = store
        return store

    def journal(self, limit: int) -> RedisJournal:
        """The one journal of every process on the store (made once per process)."""
        if self.kept_journal is None:
            self.kept_journal = RedisJournal(
                self.redis, PREFIX, self.origin, limit, listening=self.listening, lane=self.lane
            )
        return self.kept_journal

    def scenarios(self) -> SharedScenarios:
        """The one rule book of every process on the store (made once per process)."""
        self._scenarios = SharedScenarios(self.redis, PREFIX, lane=self.lane)
        self._scenarios.check = self.check
        self._scenarios.tell = lambda: self.note("rules")
        return self._scenarios

    def accounts(self, clock: Clock, **values: Any) -> SharedAccounts:
        """The balances and rate windows of every process on the store."""
        self._accounts = SharedAccounts(
            self.redis, PREFIX, clock, self.check, lane=self.lane, **values
        )
        return self._accounts

    def ledger(self, starting: int | None) -> RedisLedger:
        """The payments' nonces and balances of every process on the store."""
        return RedisLedger(self.redis, PREFIX, starting, self.lane)

    def check(self) -> None:
        """Before each call: if the rules or the rate limit changed (through any
        process) since this process last looked, read them again."""
        version = self.lane.call("GET", _CONF)
        if version == self._conf_seen:
            return
        # One reader at a time, and the version noted only once read: a call must not
        # pass on a version whose rules another thread (the listener) is still reading.
        with self._conf_lock:
            if version == self._conf_seen:
                return
            if self._scenarios is not None:
                self._scenarios._refresh()
            if self._accounts is not None:
                self._accounts.heard_limit()
            self._conf_seen = version

    def loads_rules(self) -> bool:
        """Whether this process sets up the configured rules: the first on the store
        does; one starting later (or again) finds the book, its counters and the rules
        tests added, and keeps them."""
        if self._loads_rules is None:
            self._loads_rules = bool(self.redis.set(f"{PREFIX}:rules:started", 1, nx=True))
        return self._loads_rules

    def seed(self, settings: Any) -> Any:
        """This process's seed for ids and delays: ``--seed`` with the store's number for
        the process, so two processes with one seed never make the same ids."""
        return None if settings.seed is None else f"{settings.seed}:{self.process_number}"

    def add_task(self, store: RedisTaskStore, task: Any, error: ApiError | None) -> None:
        """Keep a new task and plan its end on the due queue, in one script."""
        event_id, payload = self.due.end_event(store.dialect, task.id, task.epoch, error)
        store.add(task, (event_id, task.ends_at, payload))
        self.due.added(task.ends_at)

    def schedule_end(self, engine: SharedEngine, task: Any, error: ApiError | None) -> None:
        """Its end is on the due queue already (`add_task`); a task due already (an
        instant one) ends here and now, as the in-memory scheduler would end it: this
        process claims that one event, nothing else."""
        if task.ends_at > self.clock.now():
            return
        event_id, _ = self.due.end_event(engine.dialect.name, task.id, task.epoch, None)
        if (event := self.due.claim_event(event_id)) is not None:
            self.run(event)

    def end(
        self, engine: SharedEngine, task: Any, state: Any, at: float, result: Any, error: Any
    ) -> bool:
        """End ``task`` (`service.Engine._end`) and, if it has a callback, make its
        delivery in the same script (`tasks.RedisTaskStore.end`): the body is the
        dialect's answer for the task as it will have ended."""
        callback = None
        if task.callback_url:
            ended = copy.copy(task)  # ``task`` itself ends only if the script's set wins
            ended.result, ended.error = result, error
            ended.end(state, at)
            body = engine.dialect.response(ended)
            callback = engine.callbacks.sending(task.id, task.callback_url, body)
        ended = bool(engine.store.end(task, state, at, result, error, callback))
        if ended and callback is not None:
            self.due.added()  # its first attempt, due at once
        return ended

    def ended(self, engine: SharedEngine, task: Any) -> None:
        """Nothing: the script that ended the task made its callback's delivery (`end`)."""

    def start_at(self, engine: SharedEngine, task: Any) -> None:
        """Plan the callback a dialect sends when a task leaves the queue, on the due
        queue, as a task's end is."""
        self.due.start_at(task.starts_at, engine.dialect.name, task.id, task.epoch)

    def callbacks(
        self,
        dialect: str,
        scheduler: Any,
        clock: Clock,
        retry: Any,
        targets: Any,
        max_deliveries: int,
    ) -> SharedCallbacks:
        """``dialect``'s callback deliveries, on the store (`callbacks`); every attempt
        a due event any process may claim, on the store's clock."""
        return SharedCallbacks(
            self.redis,
            PREFIX,
            dialect,
            self.due,
            scheduler,
            retry,
            targets,
            epoch=lambda: self.epoch,
            max_deliveries=max_deliveries,
        )

    def attach(self, fake: SharedFake) -> None:
        """This process's fake: its engines' due events run here from now on (an engine
        added later is found in ``fake.engines``, the same dict)."""
        if self.fake is not None:
            return
        self.fake = fake
        self.engines = fake.engines
        fake.changes.on_listen = lambda on: self._listen(+1 if on else -1)
        if isinstance(self.clock, SharedManualClock):
            self.clock.attach(SharedDriver(self, fake.scheduler))
        else:
            threading.Thread(target=self._run, name="luma-due", daemon=True).start()
        self._listener.start()

    # -- due events -----------------------------------------------------------------

    def run_due(self, until: float | None = None) -> int:
        """Claim and run every shared event due by ``until`` (default: now)."""
        ran = 0
        while events := self.due.claim(self.clock.now() if until is None else until):
            for event in events:
                self.run(event)
                ran += 1
        return ran

    def run(self, event: DueEvent) -> None:
        payload = event.payload
        engine = self.engines.get(payload["engine"])
        if engine is None:  # a dialect this process does not serve: its lease runs out
            log.warning("due event %s for an engine this process lacks", event.id)
            return
        kind = payload.get("kind", "end")
        if kind == "callback":  # acked when the attempt settles (`callbacks`)
            engine.callbacks.run(event)
            return
        error = None if payload.get("error") is None else ApiError(*payload["error"])
        try:
            task = engine.store.get(payload["task"])
            if task is None or task.epoch != int(payload["epoch"]):
                pass  # reset away
            elif kind == "start":
                engine._started(task)
            else:
                engine._end(task, error)  # a no-op if it has ended (see `due`)
        except Exception:  # left leased: another claim retries it when the lease runs out
            log.exception("due event %s failed", event.id)
            return
        self.due.ack(event)

    def _run(self) -> None:
        """A real clock's runner: claim what is due, then sleep until the next event is
        due or a lease lapses (`due.DueQueue.rest`), woken sooner when this process adds
        an event due before then; an event due at once when it is added runs in the call
        that added it."""
        self.due.on_added = self._wake.set
        while not self._closed:
            self.due.awake()
            rest = OUTAGE_RETRY
            try:
                if self.run_due():
                    self._reachable()
                    continue
                self._reachable()
                rest = self.due.rest(self.clock.now(), IDLE)
            except Exception as down:  # Redis away: say so once, and try again
                self.unreachable(down)
            self._wake.wait(rest)
            self._wake.clear()

    def unavailable(self, error: Exception) -> ApiError | None:
        """A call that met a Redis out of reach: 503 ``api_error`` (each dialect's
        shape), with a Retry-After; the outage is logged once, not per call."""
        import redis  # loaded already: this process is on a shared store

        if not isinstance(error, (redis.RedisError, OSError)):
            return None
        self.unreachable(error)
        return ApiError(
            "api_error",
            "the fake's shared store (Redis) cannot be reached; retry shortly",
            status=503,
            headers={"Retry-After": "1"},
        )

    def unreachable(self, error: BaseException) -> None:
        if self._up:
            self._up = False
            log.warning("the shared store cannot be reached (retrying): %s", error)

    def _reachable(self) -> None:
        if not self._up:
            self._up = True
            log.warning("the shared store is reachable again")

    # -- notes between processes ------------------------------------------------------

    def note(self, *words: str) -> None:
        """Tell the other processes (a clock move, a reset, rules changed: rare, so
        always; the frequent notes are told by the scripts, only to listeners)."""
        self.redis.publish(CHANNEL, " ".join((self.origin, *words)))

    @contextlib.contextmanager
    def listening(self) -> Iterator[None]:
        """While someone in this process waits or watches, the others tell it of their
        entries, tasks and callbacks (`notes.TELL`); with nobody, they need not."""
        self._listen(+1)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # Redis away: the entry goes stale
                self._listen(-1)

    def _listen(self, step: int) -> None:
        with self._listen_lock:
            self._listeners += step
            if step > 0 and self._listeners == 1:
                self.redis.hset(LISTENING, self.origin, 1)
            elif step < 0 and self._listeners == 0:
                self.redis.hdel(LISTENING, self.origin)

    def reset(self) -> None:
        """The shared part of the fake's reset (its engines' stores cleared themselves)."""
        self.due.clear()
        self.epoch = int(self.redis.incr(f"{PREFIX}:epoch"))
        self.note("reset", str(self.epoch))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._listener.stop()
        self.lane.close()
