"""What the recording proxy reads of toy traffic: a job's id and status (queued,
running, done, failed), its ``callback_url``, and a done job's ``output``."""

from __future__ import annotations

from typing import Any

from . import PACK

STATES = {"queued": "pending", "running": "processing", "done": "completed", "failed": "failed"}


def _job(body: Any) -> tuple[str | None, str | None]:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        return None, None
    return body["id"], STATES.get(str(body.get("status")))


def task_of(
    method: str, path: str, request: Any, status: int, answer: Any
) -> tuple[str | None, str | None]:
    route = PACK.route(path)
    if not 200 <= status < 300:
        parts = route.strip("/").split("/")
        return (parts[1] if len(parts) == 2 and parts[0] == "jobs" else None), None
    return _job(answer) if route.startswith("/jobs") else (None, None)


def callback_key(method: str, path: str) -> str | None:
    return "callback_url" if PACK.is_billable(method, path) else None


def callback_task(body: Any) -> tuple[str | None, str | None]:
    return _job(body)


def media_of(answer: Any) -> list[tuple[str, str]]:
    task, state = _job(answer)
    output = answer.get("output") if isinstance(answer, dict) else None
    return [(task, output)] if task and state == "completed" and isinstance(output, str) else []
