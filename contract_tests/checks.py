"""The catalogue of contract checks: one plain function per check, one registry.

A check looks at one exchange — the `Case` that was sent and the `Answer` that came —
and raises `CheckFailure` (via `fail`) when the contract does not hold. Checks that need
the past (states only move forward, timestamps never change) read it from the
`CheckContext`'s `TaskHistory`, which `run_checks` updates after every exchange.

    @check("batch-count", "retrieve_batch's count equals len(items)", on=("tasks",))
    def batch_count(ctx: CheckContext, case: Case, answer: Answer) -> bool | None: ...

    failures = run_checks(ctx, case, answer)  # every applicable check, all failures

A check returns `SKIPPED` when the exchange is not its business, so the tally in
`CheckContext.runs` counts real runs only. `REGISTRY` maps names to `Check`s (other
suites register theirs beside these); `CHECKS` names this module's, in the order they
run. Operations: ``videos`` and ``tasks`` (answers of the API), ``callback`` (a body
the server POSTed to our receiver; the case is the request that asked for it).

The exchange types live in `exchanges`, the run's memory in `check_context` and the
MP4/JPEG size readers in `media_probe`; they are imported here too, so
``from contract_tests.checks import Case, CheckContext, mp4_size`` keeps working.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .check_context import (
    SET_ONCE,
    STATE_ORDER,
    CheckContext,
    TaskHistory,
    record_state,
    task_records,
)
from .contract import schema as contract
from .exchanges import Answer, Case, CheckFailure, CheckFailures, fail
from .media_probe import jpeg_size, mp4_size

# -- the registry --------------------------------------------------------------------


CheckFunction = Callable[[CheckContext, Case, Answer], "bool | None"]


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    operations: frozenset[str]
    fn: CheckFunction


REGISTRY: dict[str, Check] = {}
SKIPPED = False  # what a check returns when the exchange is not its business


def check(
    name: str, description: str, on: Iterable[str] = ("videos", "tasks")
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check under ``name`` for the operations ``on``. The function raises
    `CheckFailure` (see `fail`) when the contract is broken, and returns `SKIPPED` when
    the exchange is not its business (so the tally counts only real runs)."""

    def register(fn: CheckFunction) -> CheckFunction:
        if name in REGISTRY:
            raise ValueError(f"check {name!r} is registered twice")
        REGISTRY[name] = Check(name, description, frozenset(on), fn)
        return fn

    return register


def run_checks(
    ctx: CheckContext, case: Case, answer: Answer, only: Iterable[str] | None = None
) -> list[CheckFailure]:
    """Run every check that applies to the case's operation (or those in ``only``),
    collect their failures, then add the exchange to the history."""
    chosen = set(only) if only is not None else None
    failures = []
    for item in REGISTRY.values():
        if case.operation not in item.operations or (chosen and item.name not in chosen):
            continue
        try:
            if item.fn(ctx, case, answer) is not SKIPPED:
                ctx.runs[item.name] += 1
        except CheckFailure as failure:
            ctx.runs[item.name] += 1
            failure.check, failure.case, failure.answer = item.name, case, answer
            ctx.failures[item.name] += 1
            failures.append(failure)
    ctx.history.observe(case, answer)
    return failures


def assert_checks(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    """`run_checks`, raising the failure (or `CheckFailures`) instead of returning it."""
    failures = run_checks(ctx, case, answer)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise CheckFailures(failures)


# -- what the contract allows ----------------------------------------------------------

ERROR_STATUSES_SYNC = {403, 429, 500, 504}  # a failed task, a rate limit, a timeout
ERROR_STATUSES_SUBMIT = {403, 429}  # refused before any task exists


def allowed_statuses(case: Case) -> set[int]:
    """The statuses the contract allows for this case."""
    if case.auth in ("missing", "malformed"):
        return {401}
    if not case.valid:
        return {400}
    if case.expect_status is not None:
        return {case.expect_status, 429}
    if case.operation == "videos":
        failures = ERROR_STATUSES_SYNC if case.mode == "sync" else ERROR_STATUSES_SUBMIT
        return {200} | failures
    return {200, 429}


def schema_for(case: Case, answer: Answer) -> str | None:
    """The schema the answer's body must satisfy, by operation and status."""
    if answer.status >= 400:
        return "error"
    if answer.status != 200:
        return None
    if case.operation == "videos":
        return "videos-result" if case.mode == "sync" else "videos-accepted"
    if case.operation == "tasks":
        return "tasks-batch" if case.action == "retrieve_batch" else "task-record"
    return None


def _json_body(answer: Answer) -> Any:
    try:
        return answer.json()
    except ValueError as bad:
        fail("the body is not JSON", expected="a JSON document", actual=f"{bad}: {answer.text!r}")


def _error_code(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def _wrong_answer(title: str, expected: str, answer: Answer, code: str | None = None) -> None:
    """Fail a check of the answer's status: what came is the status with the error code,
    or with the start of the body when there is no code."""
    fail(title, expected=expected, actual=f"{answer.status} {code or answer.text[:200]}")


# -- answers of the API ----------------------------------------------------------------


@check("status-allowed", "the status is one the contract allows for that input")
def status_allowed(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if case.auth == "wrong" and ctx.any_token:
        return SKIPPED
    allowed = {401} if case.auth == "wrong" else allowed_statuses(case)
    if answer.status not in allowed:
        _wrong_answer(
            f"status {answer.status} is not allowed for {case.label or case.operation}",
            " or ".join(str(s) for s in sorted(allowed)),
            answer,
        )


@check("content-type-json", "answers of the API are JSON (content-type application/json)")
def content_type_json(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    kind = answer.content_type
    if kind != "application/json" and not kind.endswith("+json"):
        fail("the answer is not JSON", expected="application/json", actual=kind or "none")


@check("body-schema", "the body matches the schema for its status and operation")
def body_schema(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    name = schema_for(case, answer)
    if name is None:
        return SKIPPED
    body = _json_body(answer)
    verdict = contract.check(name, body)
    if not verdict.ok:
        fail(
            f"the {answer.status} body does not match {name}", expected=name, actual=verdict.message
        )


@check("error-code-status", "an error's code is documented and its x-status is the HTTP status")
def error_code_status(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    code = _error_code(answer.json_or_none())
    if code is None:
        return SKIPPED
    known = contract.error_codes().get(code)
    if known is None:
        fail(f"undocumented error code {code!r}", expected="a code of error.json", actual=code)
    elif known.status != answer.status:
        fail(
            f"error code {code!r} came with HTTP {answer.status}",
            expected=f"HTTP {known.status} for {code}",
            actual=f"HTTP {answer.status}",
        )


@check("valid-accepted", "a valid request with a valid token is answered 2xx")
def valid_accepted(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if not case.valid or case.auth != "valid" or case.expect_status not in (None, 200):
        return SKIPPED
    if not 200 <= answer.status < 300:
        _wrong_answer(f"a valid {case.label or case.operation} request was refused", "2xx", answer)


@check("invalid-rejected", "an invalid request is 400 bad_request, never 2xx or 5xx")
def invalid_rejected(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if case.valid or case.auth != "valid":
        return SKIPPED
    code = _error_code(answer.json_or_none())
    if answer.status == 400 and code == "bad_request":
        return
    what = (
        "accepted"
        if answer.status < 300
        else "a server error"
        if answer.status >= 500
        else "rejected with the wrong status or code"
    )
    _wrong_answer(f"a request breaking {case.label!r} was {what}", "400 bad_request", answer, code)


@check("auth-required", "a missing or malformed token (or a wrong one) is 401 invalid_token")
def auth_required(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if case.auth == "valid" or (case.auth == "wrong" and ctx.any_token):
        return SKIPPED
    code = _error_code(answer.json_or_none())
    if answer.status != 401 or code != "invalid_token":
        hint = " (a target that takes any token by design: --any-token)" * (case.auth == "wrong")
        title = f"a request with a {case.auth} token was not refused{hint}"
        _wrong_answer(title, "401 invalid_token", answer, code)


# -- tasks over time ------------------------------------------------------------------


def _records(case: Case, answer: Answer) -> list[dict[str, Any]]:
    if case.operation != "tasks" or answer.status != 200:
        return []
    return task_records(case, answer.json_or_none())


@check(
    "result-consistent",
    "a task's result is the same in its record, sync answer and callback",
    on=("videos", "tasks", "callback"),
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
    if case.operation == "tasks" and case.action == "retrieve" and answer.status == 200:
        body = answer.json_or_none()
        wanted = case.body.get("id") if isinstance(case.body, dict) else None
        if isinstance(body, dict) and body.get("id") != wanted:
            fail("retrieve answered another task", expected=wanted, actual=body.get("id"))
    records = _records(case, answer)
    if not records:
        return SKIPPED
    for record in records:
        task_id = str(record.get("id"))
        response = record.get("response")
        if record_state(record) not in ("completed", "failed"):
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


@check("states-forward", "task states only move forward: pending → processing → completed|failed")
def states_forward(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    records = _records(case, answer)
    if not any(ctx.history.last(str(r.get("id"))) for r in records):
        return SKIPPED  # nothing seen before to compare with
    for record in records:
        task_id = str(record.get("id"))
        before = ctx.history.last(task_id)
        if before is None:
            continue
        was, now = record_state(before), record_state(record)
        if STATE_ORDER.get(now, -1) < STATE_ORDER.get(was, -1) or (
            STATE_ORDER.get(was) == 2 and now != was
        ):
            fail(f"task {task_id} went from {was} to {now}", expected=f"{was} or later", actual=now)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-3)


@check(
    "timestamps-consistent", "created ≤ started ≤ finished, elapsed = finished - created, set once"
)
def timestamps_consistent(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    records = _records(case, answer)
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
        finished = record_state(record) in ("completed", "failed")
        if finished != ("finished_at" in times):
            fail(
                f"task {task_id} is {record_state(record)} with finished_at "
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


@check("batch-count", "retrieve_batch's count equals len(items), and items are the ids asked for")
def batch_count(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if case.operation != "tasks" or case.action != "retrieve_batch" or answer.status != 200:
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
)
def callback_shape(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    body = _json_body(answer)
    verdict = contract.check("callback", body)
    if not verdict.ok:
        fail(
            "the callback does not match the callback schema",
            expected="callback",
            actual=verdict.message,
        )
    if case.task_id and body.get("task_id") != case.task_id:
        fail("the callback names another task", expected=case.task_id, actual=body.get("task_id"))


# -- media -----------------------------------------------------------------------------


def _results_in(case: Case, answer: Answer) -> Iterator[dict[str, Any]]:
    body = answer.json_or_none()
    if answer.status != 200 or not isinstance(body, dict):
        return
    if case.operation == "videos" and body.get("success") is True:
        yield body
    for record in _records(case, answer):
        response = record.get("response")
        if isinstance(response, dict) and response.get("success") is True:
            yield response


@check("media-size", "video_url and thumbnail_url serve an MP4 and a JPEG of the stated size")
def media_size(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    results = list(_results_in(case, answer)) if ctx.fetch is not None else []
    if not results:
        return SKIPPED
    for result in results:
        stated = (result.get("video_width"), result.get("video_height"))
        thumb = (result.get("thumbnail_width"), result.get("thumbnail_height"))
        for url_key, kind, size in (("video_url", "mp4", stated), ("thumbnail_url", "jpeg", thumb)):
            url = result.get(url_key)
            if not isinstance(url, str):
                continue
            found = ctx.media_seen.get(url)
            if found is None:
                found = ctx.media_seen[url] = _probe(ctx.fetch, url, kind)
            if found != size:
                fail(
                    f"{url_key} does not serve a {kind} of the stated size",
                    expected=f"{size[0]}x{size[1]} {kind}",
                    actual=_size_text(found, url),
                )


def _probe(fetch: Callable[[str], Answer], url: str, kind: str) -> tuple[int, int] | str:
    answer = fetch(url)
    if answer.status != 200:
        return f"HTTP {answer.status}"
    try:
        return mp4_size(answer.content) if kind == "mp4" else jpeg_size(answer.content)
    except ValueError as bad:
        return str(bad)


def _size_text(found: tuple[int, int] | str, url: str) -> str:
    return f"{found[0]}x{found[1]} at {url}" if isinstance(found, tuple) else f"{found} at {url}"


CHECKS: tuple[str, ...] = tuple(REGISTRY)

__all__ = [
    "CHECKS",
    "REGISTRY",
    "SET_ONCE",
    "SKIPPED",
    "STATE_ORDER",
    "Answer",
    "Case",
    "Check",
    "CheckContext",
    "CheckFailure",
    "CheckFailures",
    "CheckFunction",
    "TaskHistory",
    "allowed_statuses",
    "assert_checks",
    "check",
    "fail",
    "jpeg_size",
    "mp4_size",
    "record_state",
    "run_checks",
    "schema_for",
    "task_records",
]
