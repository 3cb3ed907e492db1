"""The Luma video service as the fake plays it: plain Python, no Flask.

`LumaService` takes parsed request bodies and returns answer bodies (or raises
`ApiError`, or `ConnectionFault`); the HTTP layer only parses and renders. Each call
passes the rate limit, the contract, then the scenario rules; tasks are planned when
they are created — how long they wait, how long they take, how they end — and moved
along by the scheduler on the fake's clock. The control side (moving time, ending
tasks, waiting, reset) lives here too, so Python tests and the HTTP control API share it.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from contract_tests.contract import Verdict, check, given

from .acedata import media
from .acedata.dialect import DIALECT
from .acedata.records import new_record_id
from .engine.accounts import Accounts, parse_rate_limit
from .engine.callbacks import (
    CallbackAttempt,
    CallbackDelivery,
    CallbackDispatcher,
    RetryPolicy,
    TargetPolicy,
    TargetRefused,
)
from .engine.clock import Clock, ManualClock, RealClock
from .engine.config import Settings
from .engine.delays import DelayModel, parse_delays
from .engine.errors import ApiError, register_error_codes
from .engine.faults import ConnectionFault
from .engine.journal import Journal, JournalEntry
from .engine.scenarios import Outcome, ScenarioRequest, Scenarios
from .engine.scheduler import Scheduler
from .engine.tasks import InMemoryTaskStore, Task, TaskState, TaskStore

T = TypeVar("T")

# RFC 4122: the variant bits (10) and the version nibble (4) of a random UUID.
_UUID_KEEP = ~((0xC000 << 48) | (0xF000 << 64)) & ((1 << 128) - 1)
_UUID_V4 = (0x8000 << 48) | (4 << 76)


@dataclass
class Plan:
    """How one task will go: seconds pending, seconds processing, and how it ends."""

    queue: float
    work: float
    error: ApiError | None = None


@dataclass
class Call:
    """One call to the Luma API, filled in by the engine as it goes (for the journal)."""

    endpoint: str  # "videos" or "tasks"
    body: Any  # as posted (the task record keeps it so)
    token: str
    base_url: str = ""
    scenario: str | None = None  # the X-Luma-Mock-Scenario header
    verdict: Verdict | None = None
    rule: str | None = None
    task_id: str | None = None
    on_task: Callable[[str], None] | None = None  # told the task id as soon as it exists
    fields: Any = None  # the body's given fields (its nulls dropped), once it is valid


class LumaService:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        store: TaskStore | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.dialect = DIALECT
        if clock is None:
            clock = ManualClock() if self.settings.clock == "manual" else RealClock()
        self.clock = clock
        self.scheduler = Scheduler(clock)
        self.store: TaskStore = (
            store if store is not None else InMemoryTaskStore(self.settings.max_tasks)
        )
        self.callbacks = CallbackDispatcher(
            self.scheduler,
            clock,
            RetryPolicy(
                retries=self.settings.callback_retries,
                backoff=self.settings.callback_backoff,
                timeout=self.settings.callback_timeout,
            ),
            TargetPolicy(self.settings.callback_allow),
            max_deliveries=self.settings.max_tasks,
        )
        self.callbacks.on_attempt = self._callback_attempted
        self.rng = random.Random(self.settings.seed)
        register_error_codes(self.dialect.error_codes(), self.dialect.error_body)
        self.scenarios = Scenarios(
            endpoints=tuple(dict.fromkeys(r.endpoint for r in self.dialect.routes.values()))
        )
        self.journal = Journal(self.settings.journal_limit)
        self.accounts = Accounts(
            clock,
            credits=self.settings.credits,
            video_cost=self.settings.video_cost,
            rate_limit=parse_rate_limit(self.settings.rate_limit),
        )
        self.delays = self.settings.delays  # a control call may change them for a test
        self._clock_start = clock.now()
        for rule in self.settings.scenarios:
            self.scenarios.add(rule)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)  # any task created or moved
        self._waiting = 0  # callers in wait_until: with none, a change need wake no one
        self._sync_waits: set[threading.Event] = set()
        # Bound once: every task's end event shares it (a bound method made per event is
        # one more object per pending event for the garbage collector to scan).
        self._on_end = self._end
        self._closed = False

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

    # -- POST /luma/videos --------------------------------------------------------

    def videos(
        self, body: Any, *, token: str, base_url: str, scenario: str | None = None
    ) -> dict[str, Any]:
        """The whole endpoint: an immediate ``{"task_id"}`` with callback_url or async,
        otherwise the finished result (held until the task ends or times out)."""
        return self.handle(Call("videos", body, token, base_url, scenario))

    def tasks(self, body: Any, *, token: str, scenario: str | None = None) -> dict[str, Any]:
        return self.handle(Call("tasks", body, token, scenario=scenario))

    def handle(self, call: Call) -> dict[str, Any]:
        """One call, in the order the real service is assumed to check things: the
        rate limit, the contract, then what the scenarios say, then the work."""
        self.accounts.admit(call.token)
        call.verdict = check(f"{call.endpoint}-request", call.body)
        if not call.verdict.ok:
            raise ApiError("bad_request", call.verdict.message)
        call.fields = given(call.body)
        outcome = self._decide(call)
        if outcome is not None and outcome.kind == "reject":
            assert outcome.code is not None
            headers = {}
            if outcome.retry_after is not None:
                headers["Retry-After"] = str(max(1, math.ceil(outcome.retry_after)))
            raise ApiError(outcome.code, outcome.message, headers=headers)
        if call.endpoint == "videos":
            answer = self._video_call(call, outcome)
        else:
            answer = self._task_call(call)
        if outcome is not None and outcome.kind == "fault":
            assert outcome.fault is not None
            raise ConnectionFault(outcome.fault, 200, answer)
        return answer

    def _decide(self, call: Call) -> Outcome | None:
        if not self.scenarios:  # no rules: nothing to match
            return None
        action, text = self.dialect.describe(call.endpoint, call.fields)
        decided = self.scenarios.decide(
            ScenarioRequest(call.endpoint, call.fields, call.token, call.scenario, action, text)
        )
        if decided is None:
            return None
        rule, outcome = decided
        call.rule = rule.name
        return outcome

    def _video_call(self, call: Call, outcome: Outcome | None) -> dict[str, Any]:
        body = call.fields
        task = self._create(
            body, token=call.token, base_url=call.base_url, outcome=outcome, posted=call.body
        )
        call.task_id = task.id
        if call.on_task is not None:
            call.on_task(task.id)
        if task.callback_url or body.get("async") is True:
            return {"task_id": task.id}
        try:
            timeout = float(body.get("timeout", self.settings.default_timeout))
        except OverflowError:  # an integer too large for a float: no deadline at all
            timeout = math.inf
        return self.wait_result(task, timeout)

    def create_video(
        self, body: Any, *, token: str, base_url: str, outcome: Outcome | None = None
    ) -> Task:
        """Create and schedule one task from a request body (validated here as well, so
        the Python API is as strict as the HTTP one); spends the token's credit."""
        verdict = check("videos-request", body)
        if not verdict.ok:
            raise ApiError("bad_request", verdict.message)
        return self._create(
            given(body), token=token, base_url=base_url, outcome=outcome, posted=body
        )

    def _create(
        self,
        body: dict[str, Any],
        *,
        token: str,
        base_url: str,
        outcome: Outcome | None,
        posted: dict[str, Any],
    ) -> Task:
        """`create_video` for a body already validated (`handle` checks it once): ``body``
        holds the given fields, ``posted`` the body as it came (the record shows it)."""
        callback_url = body.get("callback_url")
        if callback_url is not None:
            try:
                self.callbacks.targets.check_url(callback_url)
            except TargetRefused as refusal:
                raise ApiError("bad_request", f"callback_url: {refusal}") from None
        action = body.get("action", "generate")
        with self._lock:
            if self._closed:
                raise ApiError("api_error", "the fake is shutting down")
            aspect_ratio = self._aspect_ratio(body, action, token)
            self.accounts.spend(token)
            now = self.clock.now()
            task = Task(
                id=self.new_id(),
                video_id=self.new_id(),
                action=action,
                request=dict(posted),
                token=token,
                trace_id=self.new_id(),
                aspect_ratio=aspect_ratio,
                public_url=self.settings.public_url or base_url,
                created_at=now,
                clock=self.clock,
                callback_url=callback_url,
                record_id=new_record_id(self.rng, now),
            )
            plan = self._plan(task, outcome)
            task.starts_at = now + plan.queue  # it leaves the queue then (see `tasks`)
            self.store.add(task)
            self._note_change()
        # Scheduled outside the lock: an instant task ends (and may deliver its callback)
        # right here. The end of a task ended early is a no-op.
        self.scheduler.at(task.starts_at + plan.work, self._on_end, task, plan.error)
        return task

    def _aspect_ratio(self, body: dict[str, Any], action: str, token: str) -> str:
        """An extension keeps the size of the video it continues (the guide's extends of
        a 21:9 video are 21:9); a generation takes the requested ratio."""
        if action == "extend":
            video_id = body.get("video_id")
            if video_id is not None:  # video_id wins over video_url
                source = self.store.by_video(video_id)
                if source is None or source.token != token:
                    # A missing resource, like an unknown task id: 404, not a malformed body.
                    raise ApiError("not_found", f"video_id: no video {video_id!r} was made here")
                return source.aspect_ratio
            task_id = media.task_id_from_url(body["video_url"])
            source = self.store.get(task_id) if task_id else None
            if source is not None and source.state is TaskState.COMPLETED:
                return source.aspect_ratio
        return body.get("aspect_ratio", media.DEFAULT_ASPECT_RATIO)

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
        task.watch(wake)
        try:
            wake.wait()
        finally:
            if deadline is not None:
                deadline.cancel()
            with self._lock:
                self._sync_waits.discard(wake)
        if task.result is not None:
            return task.result
        if task.error is not None:
            raise ApiError(task.error.code, task.error.message)
        if self._closed:
            raise ApiError("api_error", "the fake is shutting down")
        if self.store.get(task.id) is not task:
            raise ApiError("api_error", "the fake was reset while this call was held")
        raise ApiError("timeout")  # the provider's message says nothing of the seconds

    # -- the task's life ----------------------------------------------------------

    def _current(self, task: Task) -> bool:
        """Still this fake's task: not reset away (an event of a task from before a reset
        may still fire, and a reset fake with the same seed reuses its ids)."""
        return self.store.get(task.id) is task

    def _end(self, task: Task, error: ApiError | None) -> bool:
        with self._lock:
            if task.finished or not self._current(task):
                return False
            if error is None:
                task.result = self.dialect.result(task)
            else:
                task.error = error
            task.end(TaskState.COMPLETED if error is None else TaskState.FAILED, self.clock.now())
            self._note_change()
        self.store.finished(task)
        task.finish()
        if task.callback_url:
            self.callbacks.send(task.id, task.callback_url, self.dialect.response(task))
        return True

    # -- POST /luma/tasks ---------------------------------------------------------

    def _task_call(self, call: Call) -> dict[str, Any]:
        body, token = call.fields, call.token
        if body.get("action", "retrieve") == "retrieve":  # the documented default
            call.task_id = body["id"]
            task = self._own(body["id"], token)
            if task is None:
                raise ApiError("not_found", f"task {body['id']!r} was not found")
            return self.record(task)
        items = [self.record(t) for t in (self._own(i, token) for i in body["ids"]) if t]
        return {"items": items, "count": len(items)}

    def _own(self, task_id: str, token: str) -> Task | None:
        """A task is visible only to the token that created it, as on the real service."""
        task = self.store.get(task_id)
        return task if task is not None and task.token == token else None

    def record(self, task: Task) -> dict[str, Any]:
        with self._lock:
            return self.dialect.record(task)

    # -- media ----------------------------------------------------------------------

    def media_for(self, task_id: str) -> Task:
        """The finished task behind a media URL (media URLs are public, as on a CDN)."""
        task = self.store.get(task_id)
        if task is None or task.state is not TaskState.COMPLETED:
            raise ApiError("not_found", f"no media for task {task_id!r}")
        return task

    # -- control: the same names over HTTP under /__admin/ -------------------------

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

    def catch_up(self) -> None:
        """On a manual clock, run what is due now but was held back until the call that
        caused it had been answered (callbacks); a real clock's thread does it anyway."""
        if self.scheduler.manual:
            self.scheduler.release()

    def advance(self, seconds: float) -> float:
        """Move a manual clock; tasks progress and callbacks fire on the way."""
        if not isinstance(self.clock, ManualClock):
            raise ValueError(
                "only a manual clock can be moved (start the fake with --clock manual)"
            )
        return self.clock.advance(seconds)

    def set_delays(self, spec: Any) -> DelayModel:
        """Change how long new tasks take (a preset, seconds, or a table as in the
        config file); reset restores the configured delays."""
        self.delays = spec if isinstance(spec, DelayModel) else parse_delays(spec)
        return self.delays

    def wait_until(self, condition: Callable[[], T], timeout: float = 10.0) -> T:
        """Block until ``condition()`` is truthy, re-checking whenever a task is created
        or moves or a callback is attempted; returns its value, or raises TimeoutError
        after ``timeout`` real seconds."""
        with self._changed:
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

        asked: list[Task] = []

        def reached() -> Task | None:
            task = self.store.get(task_id)
            if task is None:
                return None
            now = "finished" if task.finished else task.state.value
            if now == "pending" and target != "pending" and task not in asked:
                # Leaving the queue is no event of its own (see `tasks`): ask for one
                # then, to look again.
                asked.append(task)
                self.scheduler.at(task.starts_at, self._wake_waiters)
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

    def _wake_waiters(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _note_change(self) -> None:
        """Wake the waiters of `wait_until` (called holding the lock)."""
        if self._waiting:
            self._changed.notify_all()

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
            )
        )
        with self._changed:
            self._note_change()

    def reset(self) -> None:
        """Back to the fake as it started: no tasks, callbacks or journal, the configured
        rules, balances and rate limit only, the clock at its start, the same seed. Calls
        held at the time are answered with an error."""
        with self._lock:
            waits = list(self._sync_waits)
            self.scheduler.clear()
            self.callbacks.clear()
            self.store.clear()
            self.journal.clear()
            self.accounts.clear()
            self.accounts.set_rate_limit(parse_rate_limit(self.settings.rate_limit))
            self.scenarios.clear()
            for rule in self.settings.scenarios:
                self.scenarios.add(rule)
            self.rng.seed(self.settings.seed)
            self.delays = self.settings.delays
            if isinstance(self.clock, ManualClock):
                self.clock.reset(self._clock_start)
            self._changed.notify_all()
        for wake in waits:
            wake.set()

    def close(self) -> dict[str, int]:
        """Stop: release held requests and say what was dropped."""
        with self._lock:
            self._closed = True
            running = sum(1 for t in self.store if not t.finished)
            for wake in list(self._sync_waits):
                wake.set()
        self.scheduler.close()
        dropped = self.callbacks.close()
        return {"running_tasks": running, "undelivered_callbacks": len(dropped)}
