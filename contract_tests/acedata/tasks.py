"""Checks of tasks over time and of callbacks: a task's result is the same wherever it
is seen (record, synchronous answer, callback), states only move forward, timestamps
are ordered and set once, a batch holds exactly the tasks asked for, and a callback is
its task's result. They read the run's memory (`CheckContext.history`), which
`run_checks` adds every exchange to after the checks have seen it.
"""

from __future__ import annotations

import math

from ..checks import SKIPPED, Answer, Case, CheckContext, check, fail
from ..contract import schema as contract
from . import PACK
from .records import (
    ENDED,
    NAME,
    OPERATIONS,
    SET_ONCE,
    _json_body,
    action,
    records_in,
    state_of,
)

# -- tasks over time ------------------------------------------------------------------


@check(
    "result-consistent",
    "a task's result is the same in its record, sync answer and callback",
    on=("videos", "tasks", "callback"),
    dialects=(NAME,),
)
def result_consistent(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if case.operation == "callback":
        earlier = ctx.history.results.get(case.task_id or "")
        body = answer.json_or_none()
        if earlier is None:
            return SKIPPED
        if earlier[1] != body:
            fail(f"the callback differs from {earlier[0]}", expected=earlier[1], actual=body)
        return None
    if case.operation == "tasks" and action(case) == "retrieve" and answer.status == 200:
        body = answer.json_or_none()
        wanted = case.body.get("id") if isinstance(case.body, dict) else None
        if isinstance(body, dict) and body.get("id") != wanted:
            fail("retrieve answered another task", expected=wanted, actual=body.get("id"))
    records = records_in(case, answer)
    if not records:
        return SKIPPED
    for record in records:
        task_id = str(record.get("id"))
        response = record.get("response")
        if state_of(record) not in ENDED:
            continue
        succeeded = isinstance(response, dict) and response.get("success") is True
        if succeeded and response.get("task_id") != task_id:
            fail(
                "a finished record's response names another task",
                expected=task_id,
                actual=response.get("task_id"),
            )
        earlier = ctx.history.results.get(task_id)
        if earlier is not None and earlier[1] != response:
            fail(
                f"task {task_id}'s record differs from {earlier[0]}",
                expected=earlier[1],
                actual=response,
            )


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-3)


@check(
    "timestamps-consistent",
    "created ≤ started ≤ finished, elapsed = finished - created, set once",
    OPERATIONS,
    (NAME,),
)
def timestamps_consistent(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    records = records_in(case, answer)
    if not records:
        return SKIPPED
    for record in records:
        task_id = str(record.get("id"))
        times = {k: record[k] for k in SET_ONCE if isinstance(record.get(k), (int, float))}
        order = [times[k] for k in ("created_at", "started_at", "finished_at") if k in times]
        if order != sorted(order):
            fail(
                f"task {task_id}'s timestamps are out of order",
                expected="created ≤ started ≤ finished",
                actual=times,
            )
        timed = "finished_at" in times and "elapsed" in times and "created_at" in times
        if timed and not _close(times["elapsed"], times["finished_at"] - times["created_at"]):
            fail(
                f"task {task_id}'s elapsed is not finished_at - created_at",
                expected=times["finished_at"] - times["created_at"],
                actual=times["elapsed"],
            )
        finished = state_of(record) in ENDED
        if finished != ("finished_at" in times):
            fail(
                f"task {task_id} is {state_of(record)} with finished_at "
                f"{'set' if 'finished_at' in times else 'missing'}",
                expected="finished_at exactly when the task is finished",
                actual=times,
            )
        before = ctx.history.last(task_id) or {}
        for key in SET_ONCE:
            if key in before and before[key] != record.get(key):
                fail(
                    f"task {task_id}'s {key} changed once set",
                    expected=before[key],
                    actual=record.get(key),
                )


@check(
    "batch-count",
    "retrieve_batch's count equals len(items), and items are the ids asked for",
    OPERATIONS,
    (NAME,),
)
def batch_count(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if case.operation != "tasks" or action(case) != "retrieve_batch" or answer.status != 200:
        return SKIPPED
    body = answer.json_or_none()
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return SKIPPED  # body-schema says what is wrong
    items = body["items"]
    if body.get("count") != len(items):
        fail("count is not the number of items", expected=len(items), actual=body.get("count"))
    asked = set(case.body.get("ids", [])) if isinstance(case.body, dict) else set()
    stray = [i.get("id") for i in items if isinstance(i, dict) and i.get("id") not in asked]
    if stray:
        fail("the batch holds tasks that were not asked for", expected=sorted(asked), actual=stray)


# -- callbacks -----------------------------------------------------------------------


@check(
    "callback-shape",
    "a callback body is the sync result (or error envelope) of its task",
    on=("callback",),
    dialects=(NAME,),
)
def callback_shape(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    body = _json_body(answer)
    verdict = contract.check(PACK.schema("callback"), body)
    if not verdict.ok:
        fail(
            "the callback does not match the callback schema",
            expected="callback",
            actual=verdict.message,
        )
    if case.task_id and body.get("task_id") != case.task_id:
        fail("the callback names another task", expected=case.task_id, actual=body.get("task_id"))
