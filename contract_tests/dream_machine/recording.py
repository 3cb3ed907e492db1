"""What the recording proxy reads of Dream Machine traffic
(`consumer.dialect.RecordingRules`): the Generation a create made or a get asked about,
its state (queued and dreaming are the cassette's pending and processing), the client's
``callback_url``, and a completed Generation's assets."""

from __future__ import annotations

from typing import Any

from . import PACK
from .records import state_of

STATES = {
    "queued": "pending",
    "dreaming": "processing",
    "completed": "completed",
    "failed": "failed",
}


def _generation(answer: Any) -> tuple[str | None, str | None]:
    if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
        return None, None
    return answer["id"], STATES.get(state_of(answer))


def task_of(
    method: str, path: str, request: Any, status: int, answer: Any
) -> tuple[str | None, str | None]:
    """A create's Generation; ``GET`` or ``DELETE /generations/{id}``: that id, and the
    state a 2xx answer shows."""
    if PACK.is_billable(method, path):
        return _generation(answer) if 200 <= status < 300 else (None, None)
    parts = PACK.route(path).strip("/").split("/")
    if method in ("GET", "DELETE") and len(parts) == 2 and parts[0] == "generations":
        if parts[1] in ("concepts", "camera_motion"):
            return None, None
        ok = 200 <= status < 300 and method == "GET"
        return parts[1], _generation(answer)[1] if ok else None
    return None, None


def callback_key(method: str, path: str) -> str | None:
    return "callback_url" if PACK.is_billable(method, path) else None


def callback_task(body: Any) -> tuple[str | None, str | None]:
    """A callback carries the Generation as it stands."""
    return _generation(body)


def media_of(answer: Any) -> list[tuple[str, str]]:
    """Each asset of a completed Generation, or of each one in a list page."""
    if isinstance(answer, dict) and isinstance(answer.get("generations"), list):
        return [m for g in answer["generations"] for m in media_of(g)]
    task, state = _generation(answer)
    assets = answer.get("assets") if isinstance(answer, dict) else None
    if task is None or state != "completed" or not isinstance(assets, dict):
        return []
    return [(task, url) for url in assets.values() if isinstance(url, str)]
