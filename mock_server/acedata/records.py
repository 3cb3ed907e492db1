"""What the AceDataCloud API says of a task: the result of a finished generation, the
callback body, and the record ``POST /luma/tasks`` returns (rendered on demand, so it
always agrees with the fake's clock)."""

from __future__ import annotations

import functools
import random
import uuid
from typing import Any

from ..engine.tasks import Task
from . import media
from .errors import CODES, error_body

_IDS = uuid.UUID("6f1d3c52-6a0b-4b1e-9d64-2f5c0f1a9e01")  # namespace for derived ids
LUMA_VIDEOS_API_ID = str(uuid.uuid5(_IDS, "api:/luma/videos"))


def result(task: Task) -> dict[str, Any]:
    width, height = media.size_for(task.variant)
    return {
        "success": True,
        "task_id": task.id,
        "video_id": task.output_id,
        "prompt": task.request.get("prompt", ""),
        "video_url": media.media_url(task.public_url, task.id, "mp4"),
        "video_height": height,
        "video_width": width,
        "state": "completed",
        "thumbnail_url": media.media_url(task.public_url, task.id, "jpg"),
        "thumbnail_width": width,
        "thumbnail_height": height,
    }


def response(task: Task) -> dict[str, Any]:
    """The task's answer: the result, the error envelope, or its running state."""
    if task.result is not None:
        return task.result
    if task.error is not None:
        message = task.error.in_words_of(CODES)
        return error_body(task.error.code, message, task.trace_id, task_id=task.id)
    return {"task_id": task.id, "state": task.state.value}


def record(task: Task) -> dict[str, Any]:
    body: dict[str, Any] = {
        "_id": task.ref,
        "id": task.id,
        "api_id": LUMA_VIDEOS_API_ID,
        **_derived_ids(task.token),
        "trace_id": task.trace_id,
        "created_at": task.created_at,
    }
    started_at = task.started_at
    if started_at is not None:
        body["started_at"] = started_at
    if task.finished_at is not None:
        body["finished_at"] = task.finished_at
        body["elapsed"] = round(task.finished_at - task.created_at, 6)
    body["request"] = task.request
    body["response"] = response(task)
    return body


def new_record_id(rng: random.Random, now: float) -> str:
    """A record's ``_id`` as the provider's records carry it: 24 hex digits shaped like a
    MongoDB ObjectId (the creation second, then 8 seeded random bytes)."""
    return f"{int(now) & 0xFFFFFFFF:08x}{rng.getrandbits(64):016x}"


@functools.lru_cache(maxsize=4096)  # three uuid5s per record otherwise
def _derived_ids(token: str) -> dict[str, str]:
    """Stable user/application/credential ids per token, as the real records carry."""
    return {
        "application_id": str(uuid.uuid5(_IDS, f"application:{token}")),
        "user_id": str(uuid.uuid5(_IDS, f"user:{token}")),
        "credential_id": str(uuid.uuid5(_IDS, f"credential:{token}")),
    }
