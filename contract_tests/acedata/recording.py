"""What the recording proxy reads of AceData traffic (`consumer.dialect.RecordingRules`):
the task a ``/luma/videos`` answer made or a ``/luma/tasks`` retrieve asked about, its
state (read as the suites read a task record: `records.state_of`), the client's
``callback_url``, and the video and thumbnail of a finished task."""

from __future__ import annotations

from typing import Any

from .records import state_of

MEDIA_KEYS = ("video_url", "thumbnail_url")


def _state(answer: dict[str, Any]) -> str | None:
    if answer.get("success") is False or "error" in answer:
        return "failed"
    state = answer.get("state")
    return state if state in ("pending", "processing", "completed", "failed") else None


def task_of(
    method: str, path: str, request: Any, status: int, answer: Any
) -> tuple[str | None, str | None]:
    """``/luma/videos``: the answer's task_id (completed for a synchronous result,
    pending when only accepted); ``/luma/tasks``: the id retrieved, its record's state
    (a batch is about no one task)."""
    body = request if isinstance(request, dict) else {}
    answer = answer if isinstance(answer, dict) else {}
    if method != "POST":
        return None, None
    if path == "/luma/videos":
        task = answer.get("task_id")
        if not isinstance(task, str):
            return None, None
        return task, _state(answer) or ("pending" if 200 <= status < 300 else None)
    if path == "/luma/tasks" and body.get("action", "retrieve") == "retrieve":
        task = body.get("id")
        if not isinstance(task, str):
            return None, None
        if status == 200 and "id" in answer:
            return task, state_of(answer)
        return task, None
    return None, None


def callback_key(method: str, path: str) -> str | None:
    return "callback_url" if (method, path) == ("POST", "/luma/videos") else None


def callback_task(body: Any) -> tuple[str | None, str | None]:
    """A callback is the task's result, or the error envelope with its task_id."""
    if not isinstance(body, dict) or not isinstance(body.get("task_id"), str):
        return None, None
    return body["task_id"], _state(body)


def _finished_media(result: Any, task: Any) -> list[tuple[str, str]]:
    if not isinstance(result, dict) or _state(result) != "completed" or not isinstance(task, str):
        return []
    return [(task, result[k]) for k in MEDIA_KEYS if isinstance(result.get(k), str)]


def media_of(answer: Any) -> list[tuple[str, str]]:
    """A synchronous result or a callback (the result itself), a task record (its
    ``response``), or a batch (each item's)."""
    if not isinstance(answer, dict):
        return []
    if isinstance(answer.get("items"), list):
        return [m for item in answer["items"] for m in media_of(item)]
    if "response" in answer:
        return _finished_media(answer["response"], answer.get("id"))
    return _finished_media(answer, answer.get("task_id"))
