"""Tasks and where they are kept.

A task lives pending → processing → completed | failed. It leaves the queue at the time
its plan says (``starts_at``): that step is read off the fake's clock whenever the task
is looked at, rather than carried out by an event of its own — under load, an event per
task fewer to schedule, keep and run. Its end is an event (callbacks and waiters hang on
it). What the API says of a task (its answer, its record) is the dialect's, rendered on
demand from the task, so it always agrees with the clock.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from .clock import Clock
from .errors import ApiError


class TaskState(str, Enum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (TaskState.COMPLETED, TaskState.FAILED)


_PENDING, _PROCESSING = TaskState.PENDING, TaskState.PROCESSING  # looked up once


@dataclass(eq=False, slots=True)
class Task:
    id: str
    output_id: str  # the id of what the task makes, for the dialect to find it by
    action: str
    request: dict[str, Any]
    token: str
    trace_id: str
    variant: str  # which kind of output, in the dialect's terms (a media size, say)
    public_url: str
    created_at: float
    clock: Clock = field(repr=False)
    starts_at: float = math.inf  # when it leaves the queue; never, until it is planned
    ends_at: float = math.inf  # when its plan ends it (it may be ended sooner)
    callback_url: str | None = None
    ref: str = ""  # a further id the dialect keeps (drawn at creation: `Engine.create`)
    epoch: int = 0  # the store's reset count when it was made (a shared store's check)
    charged: float = 0.0  # the credits its creation spent (refunded if its dialect says so)
    finished_at: float | None = None
    result: dict[str, Any] | None = None
    error: ApiError | None = None
    _ended: TaskState | None = None  # completed or failed, once it is
    _started_at: float | None = None  # set when it ends (it may end before starts_at)
    # Set when the task finishes; most tasks have no one waiting, so no list until then.
    _watchers: list[threading.Event] | None = field(default=None, repr=False)

    @property
    def state(self) -> TaskState:
        if self._ended is not None:
            return self._ended
        return _PROCESSING if self.clock.now() >= self.starts_at else _PENDING

    @property
    def started_at(self) -> float | None:
        if self._ended is not None:
            return self._started_at
        return self.starts_at if self.clock.now() >= self.starts_at else None

    @property
    def finished(self) -> bool:
        return self._ended is not None

    def end(self, state: TaskState, at: float) -> None:
        """Completed or failed at ``at`` (started then, if it never left the queue)."""
        self._started_at = min(self.starts_at, at)
        self._ended, self.finished_at = state, at

    def watch(self, event: threading.Event) -> None:
        """Have ``event`` set when the task finishes (at once if it already has)."""
        if self._watchers is None:
            self._watchers = []
        self._watchers.append(event)
        if self.finished:
            event.set()

    def finish(self) -> None:
        watchers, self._watchers = self._watchers or [], None
        for event in watchers:
            event.set()


class TaskStore(Protocol):
    """Where tasks are kept: in this process's memory (`InMemoryTaskStore`), or shared by
    every process on one Redis (`mock_server.engine.shared.tasks`). A shared store hands
    out a fresh `Task` on each `get`, so "the same task" is `current`, never identity."""

    epoch: int  # bumped by each reset of a shared store; 0 in memory

    def add(self, task: Task) -> None: ...
    def end(
        self,
        task: Task,
        state: TaskState,
        at: float,
        result: dict[str, Any] | None,
        error: ApiError | None,
    ) -> bool:
        """End ``task`` once: False if it had already ended or is no longer kept (the
        check and the change are one step, across processes for a shared store)."""
        ...

    def finished(self, task: Task) -> None: ...
    def current(self, task: Task) -> Task | None:
        """The kept version of ``task`` (itself, in memory), or None if it was reset or
        evicted away."""
        ...

    def watch(self, task: Task, event: threading.Event) -> None:
        """Have ``event`` set when ``task`` ends, in whichever process ends it."""
        ...

    def get(self, task_id: str) -> Task | None: ...
    def by_output(self, output_id: str) -> Task | None: ...
    def remove(self, task_id: str) -> Task | None: ...
    def clear(self) -> None: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Task]: ...


class InMemoryTaskStore:
    """Tasks in insertion order, bounded: past ``max_tasks`` the tasks that finished
    longest ago are evicted as new ones arrive. A running task is never evicted, since
    its callback and its waiters still need it; running tasks are bounded by the
    clients' own concurrency. Eviction costs O(1) a task however many are running."""

    def __init__(self, max_tasks: int = 10_000) -> None:
        if max_tasks < 1:
            raise ValueError("max_tasks must be at least 1")
        self.max_tasks = max_tasks
        self.evicted = 0
        self.epoch = 0
        self._tasks: dict[str, Task] = {}
        self._outputs: dict[str, str] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()  # ids, first finished first
        self._lock = threading.Lock()

    def add(self, task: Task) -> None:
        with self._lock:
            self._tasks[task.id] = task
            self._outputs[task.output_id] = task.id
            while len(self._tasks) > self.max_tasks and self._finished:
                victim = self._tasks.pop(self._finished.popitem(last=False)[0])
                self._outputs.pop(victim.output_id, None)
                self.evicted += 1

    def end(
        self,
        task: Task,
        state: TaskState,
        at: float,
        result: dict[str, Any] | None,
        error: ApiError | None,
    ) -> bool:
        # The engine's lock makes check-and-change one step here (see `Engine._end`).
        if task._ended is not None:
            return False
        task.result, task.error = result, error
        task.end(state, at)
        return True

    def current(self, task: Task) -> Task | None:
        return task if self._tasks.get(task.id) is task else None

    def watch(self, task: Task, event: threading.Event) -> None:
        task.watch(event)

    def finished(self, task: Task) -> None:
        """``task`` has ended: from now on it may be evicted."""
        with self._lock:
            if self._tasks.get(task.id) is task:
                self._finished[task.id] = None

    def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    def by_output(self, output_id: str) -> Task | None:
        task_id = self._outputs.get(output_id)
        return self._tasks.get(task_id) if task_id else None

    def remove(self, task_id: str) -> Task | None:
        """Forget a task (an API's delete); its pending end event finds it gone."""
        with self._lock:
            task = self._tasks.pop(task_id, None)
            if task is not None:
                self._outputs.pop(task.output_id, None)
                self._finished.pop(task_id, None)
            return task

    def clear(self) -> None:
        with self._lock:
            self._tasks.clear()
            self._outputs.clear()
            self._finished.clear()

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[Task]:
        with self._lock:
            return iter(list(self._tasks.values()))
