"""The engine: a fake API service as plain Python, no HTTP, for one dialect.

`Engine` takes a call (`Call`: an endpoint and a parsed body) and returns its answer
body (or raises `ApiError`, or `ConnectionFault`); the HTTP layer only parses and
renders. Each call passes the rate limit, the dialect's check of its body, then the
scenario rules, before the dialect does the endpoint's work with the engine's tasks.
Tasks are planned when they are created — how long they wait, how long they take, how
they end — and moved along by the scheduler on the fake's clock. The control side
(`control.Control`: moving time, ending tasks, waiting, reset) is shared by Python tests
and the HTTP control API.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .callbacks import CallbackAttempt, CallbackDelivery, RetryPolicy, TargetPolicy
from .changes import CALLBACK, TASK
from .control import Control
from .dialect import Call, Dialect
from .errors import ApiError, register_error_codes
from .faults import ConnectionFault
from .journal import JournalEntry
from .scenarios import Outcome, ScenarioRequest
from .tasks import Task, TaskState, TaskStore

if TYPE_CHECKING:
    from .fake import Fake

# RFC 4122: the variant bits (10) and the version nibble (4) of a random UUID.
_UUID_KEEP = ~((0xC000 << 48) | (0xF000 << 64)) & ((1 << 128) - 1)
_UUID_V4 = (0x8000 << 48) | (4 << 76)


@dataclass
class Plan:
    """How one task will go: seconds pending, seconds processing, and how it ends."""

    queue: float
    work: float
    error: ApiError | None = None


class Engine(Control):
    """The fake's behaviour, speaking ``dialect`` (see `dialect.Dialect`), as one of the
    engines of ``fake`` (`fake.Fake`): its own tasks (in ``store``, given) and callback
    deliveries; the fake's settings, store, clock, scheduler, seeded source, rule book,
    journal, accounts and delays."""

    def __init__(self, fake: Fake, dialect: Dialect, *, store: TaskStore | None = None) -> None:
        self.fake = fake
        self.dialect = dialect
        # Bound once: every call goes through both (two attribute lookups fewer a call).
        self._check_request = dialect.check_request
        self._serve = dialect.serve
        self.settings, self.backing, self.clock = fake.settings, fake.backing, fake.clock
        self.scheduler = fake.scheduler
        kept = self.settings.max_tasks
        self.store = store if store is not None else self.backing.tasks(dialect.name, kept)
        retry = dialect.callback_retry or RetryPolicy(
            retries=self.settings.callback_retries,
            backoff=self.settings.callback_backoff,
            timeout=self.settings.callback_timeout,
        )
        retry = retry.with_values(self.settings.dialect_callbacks.get(dialect.name, {}))
        targets = TargetPolicy(self.settings.callback_allow)
        self.callbacks = self.backing.callbacks(
            dialect.name, self.scheduler, self.clock, retry, targets, kept
        )
        self.callbacks.on_attempt = self._callback_attempted
        self.rng = fake.rng
        self.scenarios, self.journal, self.changes = fake.scenarios, fake.journal, fake.changes
        self.accounts = fake.accounts
        self.delays = fake.delays  # the fake's, set again by `Fake.set_delays`
        # The dialect's codes may already be known (its package registers them on
        # import): registering again is harmless, and makes any dialect enough. Before
        # the rules are loaded: a rule may fail a task with one of them.
        register_error_codes(dialect.error_codes(), dialect.error_body)
        # The engine codes this API answers under codes of its own (an empty balance).
        self._aliases = dialect.error_aliases
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)  # any task created or moved
        self._waiting = 0  # callers in wait_until: with none, a change need wake no one
        self._sync_waits: set[threading.Event] = set()
        # Tasks made elsewhere and kept here (`adopt`: a replayed recording's), each with
        # what it shows instead of the dialect's rendering of it.
        self._views: dict[str, Callable[[Task], dict[str, Any]]] = {}
        # Bound once: every task's end event shares it (a bound method made per event is
        # one more object per pending event for the garbage collector to scan).
        self._on_end = self._end
        self._closed = False
        # A rule may name only its dialects' endpoints (Settings cannot check that: it
        # knows no dialect).
        routes = [*dialect.routes.values(), *dialect.route_templates.values()]
        fake.joined(self, tuple(dict.fromkeys(e for r in routes for e in r.endpoints())))

    # -- identity -----------------------------------------------------------------

    def new_id(self) -> str:
        """A version-4 UUID from the seeded random source: what ``uuid.UUID(int=...,
        version=4)`` makes of the same bits, without building the object."""
        bits = (self.rng.getrandbits(128) & _UUID_KEEP) | _UUID_V4
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def authenticate(self, authorization: str | None) -> str:
        """The bearer token of an ``Authorization`` header, or 401 ``invalid_token``."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError("invalid_token")
        if self.settings.tokens and token not in self.settings.tokens:
            raise ApiError("invalid_token")
        return token

    # -- a call ---------------------------------------------------------------------

    def handle(self, call: Call) -> dict[str, Any]:
        """One call, in the order the real service is assumed to check things: the rate
        limit, the contract, then what the scenarios say, then the work (an error with
        a code the dialect says in its own, `Dialect.error_aliases`, is raised so)."""
        try:
            return self._handle(call)
        except ApiError as error:
            alias = self._aliases.get(error.code)
            if alias is None:
                raise
            message = error.message if error.given else None
            raise ApiError(alias, message, headers=error.headers) from None

    def _handle(self, call: Call) -> dict[str, Any]:
        self.accounts.admit(call.token)
        call.verdict, call.fields = self._check_request(call.endpoint, call.body)
        if not call.verdict.ok:
            raise ApiError("bad_request", call.verdict.message)
        outcome = self._decide(call)
        if outcome is not None and outcome.kind == "reject":
            raise outcome.rejection()
        answer = self._serve(self, call, outcome)
        if outcome is not None and outcome.kind == "fault":
            assert outcome.fault is not None
            raise ConnectionFault(outcome.fault, 200, answer)
        return answer

    def _decide(self, call: Call) -> Outcome | None:
        if not self.scenarios:  # no rules: nothing to match (and nothing to describe)
            return None
        action, text, model = self.dialect.describe(call.endpoint, call.fields)
        asked = (call.endpoint, call.fields, call.token, call.scenario)
        seen = ScenarioRequest(*asked, action, text, self.dialect.name, call.path, model)
        decided = self.scenarios.decide(seen)
        if decided is None:
            return None
        rule, outcome = decided
        call.rule = rule.name
        return outcome

    # -- what a dialect may use (`dialect.EngineAPI`) ---------------------------------

    def create(
        self,
        *,
        request: Mapping[str, Any],
        token: str,
        base_url: str,
        action: str,
        variant: str | Callable[[], str],
        outcome: Outcome | None = None,
        callback_url: str | None = None,
        ref: Callable[[random.Random, float], str] | None = None,
    ) -> Task:
        """Create and schedule one task for a valid call; spends the token's credit.

        ``request`` is the body as posted (the task keeps it), ``action`` picks the
        delays (see `delays`), ``variant`` is the task's variant (the
        dialect's: its media size, say) or a function that finds it under the engine's
        lock (one that looks at other tasks), ``outcome`` is a scenario rule's. In this
        order: a ``callback_url`` the target policy refuses raises `TargetRefused`; a
        closing engine answers ``api_error``; then, under the lock, ``variant()`` (which
        may raise: nothing is spent then), the credit, and the task's ids from the
        seeded source — id, output, trace, then ``ref(rng, now)``, a further id the
        dialect keeps — always drawn in that order.
        """
        if callback_url is not None:
            self.callbacks.targets.check_url(callback_url)
        with self._lock:
            if self._closed:
                raise ApiError("api_error", "the fake is shutting down")
            chosen = variant if isinstance(variant, str) else variant()
            charged = self.accounts.spend(token)
            now = self.clock.now()
            task = Task(
                id=self.new_id(),
                output_id=self.new_id(),
                action=action,
                request=dict(request),
                token=token,
                trace_id=self.new_id(),
                variant=chosen,
                public_url=self.settings.public_url or base_url,
                created_at=now,
                clock=self.clock,
                callback_url=callback_url,
                ref=ref(self.rng, now) if ref is not None else "",
                epoch=self.store.epoch,
                charged=charged,
            )
            plan = self._plan(task, outcome)
            task.starts_at = now + plan.queue  # it leaves the queue then (see `tasks`)
            task.ends_at = task.starts_at + plan.work
            # On a shared store, with its end on the due queue in one script (`shared.due`).
            self.backing.add_task(self.store, task, plan.error)
            self._note_change()
            if self.changes.listening:
                self.changes.publish(TASK, task.id, self.dialect.name)
        # Scheduled outside the lock: an instant task ends (and may deliver its callback)
        # right here. The end of a task ended early is a no-op.
        self.backing.schedule_end(self, task, plan.error)
        return task

    def _plan(self, task: Task, outcome: Outcome | None) -> Plan:
        queue, work = self.delays.plan(task.action, self.rng)
        plan = Plan(queue, work)
        if outcome is not None and outcome.kind in ("delay", "fail", "succeed"):
            plan.queue = plan.queue if outcome.queue is None else outcome.queue
            plan.work = plan.work if outcome.work is None else outcome.work
            if outcome.kind == "fail":
                assert outcome.code is not None
                plan.error = ApiError(outcome.code, outcome.message)
        return plan

    def wait_result(self, task: Task, timeout: float) -> dict[str, Any]:
        """Hold a synchronous call until the task ends, or ``timeout`` seconds of the
        fake's clock pass (then 504 ``timeout``; the task itself goes on)."""
        wake = threading.Event()
        with self._lock:
            self._sync_waits.add(wake)
            if self._closed or not self._current(task):  # a reset or close came first
                wake.set()
        deadline = (  # an infinite timeout (too large for a float) has no deadline
            self.scheduler.at(task.created_at + timeout, wake.set)
            if math.isfinite(timeout)
            else None
        )
        self.journal.holding(task.id)  # visible, unanswered, to waiters anywhere
        try:
            with self.backing.listening():  # another process may end it: it tells this one
                self.store.watch(task, wake)
                wake.wait()
        finally:
            if deadline is not None:
                deadline.cancel()
            with self._lock:
                self._sync_waits.discard(wake)
        kept = self.store.current(task)  # ended here or by another process
        if kept is not None:
            task = kept
        if task.result is not None:
            return task.result
        if task.error is not None:
            raise ApiError(task.error.code, task.error.message)
        if self._closed:
            raise ApiError("api_error", "the fake is shutting down")
        if kept is None:
            raise ApiError("api_error", "the fake was reset while this call was held")
        raise ApiError("timeout")  # the provider's message says nothing of the seconds

    def callback_on_start(self, task: Task) -> None:
        """Send the task's callback also when it leaves the queue, as its own delivery
        (keyed ``<task id>:started``; the one at its end keeps the task id)."""
        if task.callback_url is None:
            return
        self.backing.start_at(self, task)

    def _started(self, task: Task) -> None:
        with self._lock:
            if task.finished or not self._current(task) or self._closed:
                return  # it ended first (an instant task), or is gone
            body = self.dialect.response(task)
        assert task.callback_url is not None
        self.callbacks.send(f"{task.id}:started", task.callback_url, body)

    def own(self, task_id: str, token: str) -> Task | None:
        """A task is visible only to the token that created it, as on the real service."""
        task = self.store.get(task_id)
        return task if task is not None and task.token == token else None

    def record(self, task: Task) -> dict[str, Any]:
        with self._lock:
            view = self._views.get(task.id) if self._views else None
            return view(task) if view is not None else self.dialect.record(task)

    def adopted(self, task: Task) -> bool:
        """Whether ``task`` was made elsewhere (`adopt`): the dialect renders nothing of it,
        its media included."""
        return task.id in self._views

    def adopt(
        self,
        task: Task,
        view: Callable[[Task], dict[str, Any]],
        error: ApiError | None = None,
    ) -> Task:
        """Keep ``task``, made elsewhere with its id and times planned (a replayed
        recording's, `mock_server.replay`): it moves on the fake's clock like any other —
        waits, the journal's task ids, the dashboard, reset — ends at ``ends_at``
        (failed with ``error``, if given), and shows ``view(task)`` where the dialect
        would render it. No credit is spent and no callback is sent for it."""
        with self._lock:
            self._views[task.id] = view
            self.backing.add_task(self.store, task, error)
            self._note_change()
            if self.changes.listening:
                self.changes.publish(TASK, task.id, self.dialect.name)
        self.backing.schedule_end(self, task, error)
        return task

    # -- the task's life ----------------------------------------------------------

    def _current(self, task: Task) -> bool:
        """Still this fake's task: not reset away (an event of a task from before a reset
        may still fire, and a reset fake with the same seed reuses its ids)."""
        return self.store.current(task) is not None

    def _end(self, task: Task, error: ApiError | None) -> bool:
        with self._lock:
            if task.finished or not self._current(task):
                return False
            now = self.clock.now()
            result = None
            if error is None:
                view = self._views.get(task.id) if self._views else None
                result = view(task) if view is not None else self.dialect.result(task)
            state = TaskState.COMPLETED if error is None else TaskState.FAILED
            # On a shared store, with its callback's delivery in one script (`shared.handle`).
            if not self.backing.end(self, task, state, now, result, error):
                return False  # another process ended it first (a shared store)
            if error is not None and self.dialect.refunds_failures and task.charged:
                self.accounts.refund(task.token, task.charged)
            self._note_change()
            if self.changes.listening:
                self.changes.publish(TASK, task.id, self.dialect.name)
        self.store.finished(task)
        task.finish()
        if task.callback_url:
            self.backing.ended(self, task)
        return True

    def unavailable(self, error: Exception) -> ApiError | None:
        """The answer for a call that failed on ``error``, if that is the shared store
        being out of reach (a 503 in the dialect's shape; None for anything else)."""
        return self.backing.unavailable(error)

    def _callback_attempted(self, delivery: CallbackDelivery, attempt: CallbackAttempt) -> None:
        self.journal.record(
            JournalEntry(
                kind="callback",
                at=attempt.at,
                path=urlsplit(delivery.url).path,
                url=delivery.url,
                body=delivery.body,
                status=attempt.status,
                task_id=delivery.task_id,
                attempt=attempt.number,
                error=attempt.error,
                duration_ms=round(attempt.duration_ms, 3),
            )
        )
        with self._changed:
            self._note_change()
        self.changes.publish(CALLBACK, delivery.task_id, self.dialect.name)

    # -- media ----------------------------------------------------------------------

    def media_for(self, task_id: str) -> Task:
        """The finished task behind a media URL (media URLs are public, as on a CDN)."""
        task = self.store.get(task_id)
        if task is None or task.state is not TaskState.COMPLETED or self.adopted(task):
            raise ApiError("not_found", f"no media for task {task_id!r}")
        return task
