"""The Generation object, rendered from a task on demand (so it always agrees with the
fake's clock): ``queued`` → ``dreaming`` → ``completed`` | ``failed``, ``created_at`` in
ISO 8601 UTC with a ``Z``, the assets once completed."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..engine.errors import codes
from ..engine.tasks import Task, TaskState
from . import media

STATES = {
    TaskState.PENDING: "queued",
    TaskState.PROCESSING: "dreaming",
    TaskState.COMPLETED: "completed",
    TaskState.FAILED: "failed",
}

# A failure the engine was told by code alone (a scenario rule's ``fail``) says why in
# the words Luma's documents list for ``failure_reason``.
FAILURE_REASONS = {
    "forbidden": "Advanced prompt moderation failed",
    "bad_request": "Failed to read user input frames",
}
DEFAULT_FAILURE_REASON = "Prompt processing failed"


def iso_time(seconds: float) -> str:
    """``2023-06-01T12:00:00.123Z``: UTC, milliseconds, a Z rather than +00:00."""
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def generation(task: Task, state: TaskState | None = None) -> dict[str, Any]:
    """The task as a Generation, in ``state`` (its own now, unless told)."""
    state = state or task.state
    kind = media.generation_type(task.variant)
    assets: dict[str, str] | None = None
    if state is TaskState.COMPLETED:
        url = media.media_url(task.public_url, task.id, media.media_kind(task.variant))
        assets = {kind: url}
    return {
        "id": task.id,
        "generation_type": kind,
        "state": STATES[state],
        "failure_reason": failure_reason(task) if state is TaskState.FAILED else None,
        "created_at": iso_time(task.created_at),
        "assets": assets,
        "model": task.request.get("model") or media.variant_model(task.variant),
        "request": task.request,
    }


def failure_reason(task: Task) -> str:
    error = task.error
    if error is None:
        return DEFAULT_FAILURE_REASON
    registered = codes().get(error.code)
    if registered is not None and error.message == registered.message:
        return FAILURE_REASONS.get(error.code, DEFAULT_FAILURE_REASON)
    return error.message


def result(task: Task) -> dict[str, Any]:
    """The completed Generation (asked just before the task is marked completed)."""
    return generation(task, TaskState.COMPLETED)


def record(task: Task) -> dict[str, Any]:
    return generation(task)


def response(task: Task) -> dict[str, Any]:
    """What a callback would carry: the Generation as it stands."""
    return generation(task)
