"""Tasks and where they are kept.

A task lives pending → processing → completed | failed. It leaves the queue at the time
its plan says (``starts_at``): that step is read off the fake's clock whenever the task
is looked at, rather than carried out by an event of its own — under load, an event per
task fewer to schedule, keep and run. Its end is an event (callbacks and waiters hang on
it). Its record (what ``POST /luma/tasks`` returns) is rendered on demand, so it always
agrees with the clock.
"""

from __future__ import annotations

import functools
import math
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from .clock import Clock
from .errors import ApiError

_IDS = uuid.UUID("6f1d3c52-6a0b-4b1e-9d64-2f5c0f1a9e01")  # namespace for derived ids
LUMA_VIDEOS_API_ID = str(uuid.uuid5(_IDS, "api:/luma/videos"))


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
    video_id: str
    action: str
    request: dict[str, Any]
    token: str
    trace_id: str
    aspect_ratio: str
    public_url: str
    created_at: float
    clock: Clock = field(repr=False)
    starts_at: float = math.inf  # when it leaves the queue; never, until it is planned
    callback_url: str | None = None
    record_id: str = ""  # the record's ``_id``: the provider's database id, 24 hex digits
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

    def response(self) -> dict[str, Any]:
        """The task's answer: the result, the error envelope, or its running state."""
        if self.result is not None:
            return self.result
        if self.error is not None:
            return self.error.envelope(self.trace_id, task_id=self.id)
        return {"task_id": self.id, "state": self.state.value}

    def record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "_id": self.record_id,
            "id": self.id,
            "api_id": LUMA_VIDEOS_API_ID,
            **_derived_ids(self.token),
            "trace_id": self.trace_id,
            "created_at": self.created_at,
        }
        if self.started_at is not None:
            record["started_at"] = self.started_at
        if self.finished_at is not None:
            record["finished_at"] = self.finished_at
            record["elapsed"] = round(self.finished_at - self.created_at, 6)
        record["request"] = self.request
        record["response"] = self.response()
        return record


@functools.lru_cache(maxsize=4096)  # three uuid5s per record otherwise
def _derived_ids(token: str) -> dict[str, str]:
    """Stable user/application/credential ids per token, as the real records carry."""
    return {
        "application_id": str(uuid.uuid5(_IDS, f"application:{token}")),
        "user_id": str(uuid.uuid5(_IDS, f"user:{token}")),
        "credential_id": str(uuid.uuid5(_IDS, f"credential:{token}")),
    }


class TaskStore(Protocol):
    """Where tasks are kept; the in-memory store is the first of several."""

    def add(self, task: Task) -> None: ...
    def finished(self, task: Task) -> None: ...
    def get(self, task_id: str) -> Task | None: ...
    def by_video(self, video_id: str) -> Task | None: ...
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
        self._tasks: dict[str, Task] = {}
        self._videos: dict[str, str] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()  # ids, first finished first
        self._lock = threading.Lock()

    def add(self, task: Task) -> None:
        with self._lock:
            self._tasks[task.id] = task
            self._videos[task.video_id] = task.id
            while len(self._tasks) > self.max_tasks and self._finished:
                victim = self._tasks.pop(self._finished.popitem(last=False)[0])
                self._videos.pop(victim.video_id, None)
                self.evicted += 1

    def finished(self, task: Task) -> None:
        """``task`` has ended: from now on it may be evicted."""
        with self._lock:
            if self._tasks.get(task.id) is task:
                self._finished[task.id] = None

    def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    def by_video(self, video_id: str) -> Task | None:
        task_id = self._videos.get(video_id)
        return self._tasks.get(task_id) if task_id else None

    def clear(self) -> None:
        with self._lock:
            self._tasks.clear()
            self._videos.clear()
            self._finished.clear()

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[Task]:
        with self._lock:
            return iter(list(self._tasks.values()))
