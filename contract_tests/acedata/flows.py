"""What the provider suite does with this dialect's tasks, for its phases (`provider`)
and its machine (`machine`): one ``POST /luma/videos`` and all that follows from it
(`video`), retrieving a task alone or in a batch, and the videos made in the run, which
extensions draw from (`Memory`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from ..checks import Case
from ..contract.schema import given
from ..provider.runner import ANSWER_TIMEOUT, INSTANT, SCENARIO_HEADER, Provider
from .records import luma_case, mode


@dataclass
class Memory:
    """The dialect's memory for one run: the videos made, ``(video_id, video_url)``."""

    videos: list[tuple[str, str]] = field(default_factory=list)


def memory(provider: Provider) -> Memory:
    return cast(Memory, provider.memory)


def retrieve_case(task_id: str) -> Case:
    """``POST /luma/tasks`` ``{"action": "retrieve", "id": task_id}``, which must be a 200."""
    body = {"action": "retrieve", "id": task_id}
    return luma_case("tasks", body, label="retrieve", expect_status=200, task_id=task_id)


def retrieve(provider: Provider, task_id: str) -> dict[str, Any] | None:
    body = provider.exchange(retrieve_case(task_id)).json_or_none()
    return body if isinstance(body, dict) else None


def retrieve_batch(provider: Provider, ids: list[str]) -> None:
    provider.exchange(luma_case("tasks", {"action": "retrieve_batch", "ids": ids}, label="batch"))


def remember_video(provider: Provider, result: Any) -> None:
    if isinstance(result, dict) and result.get("success") is True:
        video = (result.get("video_id"), result.get("video_url"))
        videos = memory(provider).videos
        if all(isinstance(v, str) for v in video) and video not in videos:
            videos.append(video)  # type: ignore[arg-type]


def video(provider: Provider, body: dict[str, Any], label: str) -> None:
    """One POST /luma/videos and everything that follows from it: settle the task,
    its callback (once the task is seen to end), retrieve it alone and in a batch,
    remember the video."""
    if given(body).get("callback_url"):  # a null one is not given
        body = provider.unique_callback(body)
    case = luma_case("videos", body, label=label)
    timeout = ANSWER_TIMEOUT
    if mode(case) == "sync":
        if provider.instant_rule is not None:
            case.headers[SCENARIO_HEADER] = INSTANT
        else:
            timeout = float(given(body).get("timeout", 300)) + ANSWER_TIMEOUT
    answer = provider.exchange(case, timeout)
    data = answer.json_or_none()
    task_id = data.get("task_id") if isinstance(data, dict) else None
    if answer.status != 200 or not isinstance(task_id, str):
        return
    case.task_id = task_id
    if mode(case) == "sync":
        remember_video(provider, data)
        record = retrieve(provider, task_id)
    else:
        record = provider.settle(task_id)
        if record is not None:  # it ended: its callback is due, its record final
            if mode(case) == "callback":
                provider.check_callback(case, "callback-shape")
            record = retrieve(provider, task_id) or record
    retrieve_batch(provider, [task_id, f"unknown-{task_id}"])
    if record is not None:
        remember_video(provider, record.get("response"))
