"""The Luma video service as the fake plays it: plain Python, no Flask.

`LumaService` takes parsed request bodies and returns answer bodies (or raises
`ApiError`); the HTTP layer only parses and renders. Tasks are planned when they are
created — how long they wait, how long they take, how they end — and moved along by
the scheduler on the fake's clock.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from contract_tests.contract import check

from . import media
from .callbacks import (
    CallbackDelivery,
    CallbackDispatcher,
    RetryPolicy,
    TargetPolicy,
    TargetRefused,
)
from .clock import Clock, ManualClock, RealClock
from .config import Settings
from .errors import ApiError
from .scheduler import Scheduler
from .tasks import InMemoryTaskStore, Task, TaskState, TaskStore

log = logging.getLogger("luma_mock.service")
T = TypeVar("T")


@dataclass
class Plan:
    """How one task will go: seconds pending, seconds processing, and how it ends."""

    queue: float
    work: float
    error: ApiError | None = None


# Decides a task's plan from its request and token; None keeps the default plan.
Planner = Callable[[dict[str, Any], str, Plan], Plan | None]


class LumaService:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        store: TaskStore | None = None,
    ) -> None:
        self.settings = settings or Settings()
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
        )
        self.rng = random.Random(self.settings.seed)
        self.planners: list[Planner] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)  # any task created or moved
        self._sync_waits: set[threading.Event] = set()
        self._closed = False

    # -- identity -----------------------------------------------------------------

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

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

    def videos(self, body: Any, *, token: str, base_url: str) -> dict[str, Any]:
        """The whole endpoint: an immediate ``{"task_id"}`` with callback_url or async,
        otherwise the finished result (held until the task ends or times out)."""
        task = self.create_video(body, token=token, base_url=base_url)
        if task.callback_url or body.get("async") is True:
            return {"task_id": task.id}
        timeout = float(body.get("timeout", self.settings.default_timeout))
        return self.wait_result(task, timeout)

    def create_video(self, body: Any, *, token: str, base_url: str) -> Task:
        verdict = check("videos-request", body)
        if not verdict.ok:
            raise ApiError("bad_request", verdict.message)
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
            now = self.clock.now()
            task = Task(
                id=self.new_id(),
                video_id=self.new_id(),
                action=action,
                request=dict(body),
                token=token,
                trace_id=self.new_id(),
                aspect_ratio=aspect_ratio,
                public_url=self.settings.public_url or base_url,
                created_at=now,
                callback_url=callback_url,
            )
            plan = self._plan(task)
            self.store.add(task)
            self._changed.notify_all()
        # Scheduled outside the lock: with a manual clock an instant task runs (and may
        # deliver its callback) right here. Events of a task ended early are no-ops.
        self.scheduler.at(now + plan.queue, lambda: self._start(task))
        self.scheduler.at(now + plan.queue + plan.work, lambda: self._end(task, plan.error))
        return task

    def _aspect_ratio(self, body: dict[str, Any], action: str, token: str) -> str:
        """An extension keeps the size of the video it continues (the guide's extends of
        a 21:9 video are 21:9); a generation takes the requested ratio."""
        if action == "extend":
            video_id = body.get("video_id")
            if video_id is not None:  # video_id wins over video_url
                source = self.store.by_video(video_id)
                if source is None or source.token != token:
                    raise ApiError("bad_request", f"video_id: no video {video_id!r} was made here")
                return source.aspect_ratio
            task_id = media.task_id_from_url(body["video_url"])
            source = self.store.get(task_id) if task_id else None
            if source is not None and source.state is TaskState.COMPLETED:
                return source.aspect_ratio
        return body.get("aspect_ratio", media.DEFAULT_ASPECT_RATIO)

    def _plan(self, task: Task) -> Plan:
        queue, work = self.settings.delays.plan(task.action, self.rng)
        plan = Plan(queue, work)
        for planner in self.planners:
            plan = planner(task.request, task.token, plan) or plan
        return plan

    def wait_result(self, task: Task, timeout: float) -> dict[str, Any]:
        """Hold a synchronous call until the task ends, or ``timeout`` seconds of the
        fake's clock pass (then 504 ``timeout``; the task itself goes on)."""
        wake = threading.Event()
        with self._lock:
            self._sync_waits.add(wake)
        deadline = self.scheduler.at(task.created_at + timeout, wake.set)
        task.watch(wake)
        try:
            wake.wait()
        finally:
            deadline.cancel()
            with self._lock:
                self._sync_waits.discard(wake)
        if task.result is not None:
            return task.result
        if task.error is not None:
            raise ApiError(task.error.code, task.error.message)
        if self._closed:
            raise ApiError("api_error", "the fake is shutting down")
        raise ApiError("timeout", f"the result did not arrive within {timeout:g} s")

    # -- the task's life ----------------------------------------------------------

    def _start(self, task: Task) -> None:
        with self._lock:
            if task.state is TaskState.PENDING:
                task.state = TaskState.PROCESSING
                task.started_at = self.clock.now()
                self._changed.notify_all()

    def _end(self, task: Task, error: ApiError | None) -> bool:
        with self._lock:
            if task.finished:
                return False
            now = self.clock.now()
            if task.started_at is None:
                task.started_at = now
            task.finished_at = now
            if error is None:
                task.result = self._result(task)
                task.state = TaskState.COMPLETED
            else:
                task.error = error
                task.state = TaskState.FAILED
            self._changed.notify_all()
        task.finish()
        if task.callback_url:
            self.callbacks.send(task.id, task.callback_url, task.response())
        return True

    def _result(self, task: Task) -> dict[str, Any]:
        width, height = media.size_for(task.aspect_ratio)
        return {
            "success": True,
            "task_id": task.id,
            "video_id": task.video_id,
            "prompt": task.request.get("prompt", ""),
            "video_url": media.media_url(task.public_url, task.id, "mp4"),
            "video_height": height,
            "video_width": width,
            "state": "completed",
            "thumbnail_url": media.media_url(task.public_url, task.id, "jpg"),
            "thumbnail_width": width,
            "thumbnail_height": height,
        }

    # -- POST /luma/tasks ---------------------------------------------------------

    def tasks(self, body: Any, *, token: str) -> dict[str, Any]:
        verdict = check("tasks-request", body)
        if not verdict.ok:
            raise ApiError("bad_request", verdict.message)
        if body["action"] == "retrieve":
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
            return task.record()

    # -- media ----------------------------------------------------------------------

    def media_for(self, task_id: str) -> Task:
        """The finished task behind a media URL (media URLs are public, as on a CDN)."""
        task = self.store.get(task_id)
        if task is None or task.state is not TaskState.COMPLETED:
            raise ApiError("not_found", f"no media for task {task_id!r}")
        return task

    # -- control --------------------------------------------------------------------

    def task(self, task_id: str) -> Task:
        task = self.store.get(task_id)
        if task is None:
            raise ApiError("not_found", f"task {task_id!r} was not found")
        return task

    def complete(self, task_id: str) -> Task:
        """Finish a task successfully now, whatever its plan said."""
        task = self.task(task_id)
        self._end(task, None)
        return task

    def fail(self, task_id: str, code: str = "api_error", message: str | None = None) -> Task:
        """Fail a task now with a documented error."""
        task = self.task(task_id)
        self._end(task, ApiError(code, message))
        return task

    def advance(self, seconds: float) -> float:
        """Move a manual clock; tasks progress and callbacks fire on the way."""
        if not isinstance(self.clock, ManualClock):
            raise ValueError("only a manual clock can be moved")
        return self.clock.advance(seconds)

    def wait_until(self, condition: Callable[[], T], timeout: float = 10.0) -> T:
        """Block until ``condition()`` is truthy, re-checking whenever a task is created
        or moves; returns its value, or raises TimeoutError (real seconds)."""
        with self._changed:
            value = self._changed.wait_for(condition, timeout)
        if not value:
            raise TimeoutError(f"not reached within {timeout} s")
        return value

    def delivery(self, task_id: str) -> CallbackDelivery | None:
        return self.callbacks.get(task_id)

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
