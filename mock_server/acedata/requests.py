"""What the AceDataCloud endpoints do with a valid call, with the engine's tasks:
``POST /luma/videos`` creates a task (answered at once with its id when the call is
async or has a callback, otherwise held until it ends); ``POST /luma/tasks`` retrieves
one record, or a batch of them."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from contract_tests.contract import Verdict, check, given

from ..engine.callbacks import TargetRefused
from ..engine.dialect import Call, EngineAPI
from ..engine.errors import ApiError
from ..engine.scenarios import Outcome
from ..engine.tasks import Task, TaskState
from . import media
from .records import new_record_id

_SCHEMAS = {
    "videos": "acedata/videos-request",
    "tasks": "acedata/tasks-request",
}  # named once, not per call


def check_request(endpoint: str, body: Any) -> tuple[Verdict, Any]:
    """The contract's verdict on a request body; for a valid one, its given fields (a
    JSON null means "not given")."""
    verdict = check(_SCHEMAS.get(endpoint) or f"{endpoint}-request", body)
    return verdict, (given(body) if verdict.ok else None)


def serve(engine: EngineAPI, call: Call, outcome: Outcome | None) -> dict[str, Any]:
    if call.endpoint == "videos":
        return video_call(engine, call, outcome)
    return task_call(engine, call)


# -- POST /luma/videos ------------------------------------------------------------------


def video_call(engine: EngineAPI, call: Call, outcome: Outcome | None) -> dict[str, Any]:
    """An immediate ``{"task_id"}`` with callback_url or async, otherwise the finished
    result (held until the task ends or times out)."""
    fields = call.fields
    task = create_task(
        engine, fields, token=call.token, base_url=call.base_url, outcome=outcome, posted=call.body
    )
    call.task_id = task.id
    if call.on_task is not None:
        call.on_task(task.id)
    if task.callback_url or fields.get("async") is True:
        return {"task_id": task.id}
    try:
        timeout = float(fields.get("timeout", engine.settings.default_timeout))
    except OverflowError:  # an integer too large for a float: no deadline at all
        timeout = math.inf
    return engine.wait_result(task, timeout)


def create_task(
    engine: EngineAPI,
    fields: dict[str, Any],
    *,
    token: str,
    base_url: str,
    outcome: Outcome | None,
    posted: dict[str, Any],
) -> Task:
    """A task for a valid body: ``fields`` holds its given fields, ``posted`` the body
    as it came (the record shows it)."""
    action = fields.get("action", "generate")
    variant: str | Callable[[], str]
    if action == "extend":  # looks at the source task: under the engine's lock
        variant = lambda: aspect_ratio(engine, fields, action, token)  # noqa: E731
    else:
        variant = fields.get("aspect_ratio", media.DEFAULT_ASPECT_RATIO)
    try:
        return engine.create(
            request=posted,
            token=token,
            base_url=base_url,
            action=action,
            variant=variant,
            outcome=outcome,
            callback_url=fields.get("callback_url"),
            ref=new_record_id,
        )
    except TargetRefused as refusal:
        raise ApiError("bad_request", f"callback_url: {refusal}") from None


def aspect_ratio(engine: EngineAPI, fields: dict[str, Any], action: str, token: str) -> str:
    """An extension keeps the size of the video it continues (the guide's extends of
    a 21:9 video are 21:9); a generation takes the requested ratio."""
    if action == "extend":
        video_id = fields.get("video_id")
        if video_id is not None:  # video_id wins over video_url
            source = engine.store.by_output(video_id)
            if source is None or source.token != token:
                # A missing resource, like an unknown task id: 404, not a malformed body.
                raise ApiError("not_found", f"video_id: no video {video_id!r} was made here")
            return source.variant
        task_id = media.task_id_from_url(fields["video_url"])
        source = engine.store.get(task_id) if task_id else None
        if source is not None and source.state is TaskState.COMPLETED:
            return source.variant
    return fields.get("aspect_ratio", media.DEFAULT_ASPECT_RATIO)


# -- POST /luma/tasks -------------------------------------------------------------------


def task_call(engine: EngineAPI, call: Call) -> dict[str, Any]:
    fields, token = call.fields, call.token
    if fields.get("action", "retrieve") == "retrieve":  # the documented default
        call.task_id = fields["id"]
        task = engine.own(fields["id"], token)
        if task is None:
            raise ApiError("not_found", f"task {fields['id']!r} was not found")
        return engine.record(task)
    items = [engine.record(t) for t in (engine.own(i, token) for i in fields["ids"]) if t]
    return {"items": items, "count": len(items)}
