"""The toy API's answers for the checks every dialect shares (`checks.dialects.Answers`),
and one check of its own: a job's prompt is the one asked for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contract_tests.checks import SKIPPED, Answer, Case, CheckContext, TaskHistory, check, fail

from . import PACK

OPERATIONS = ("create", "get")
STATES = {"queued": 0, "running": 1, "done": 2, "failed": 2}
INVALID = UNAUTHORIZED = None  # any ``oops`` says why
REASON = "{oops}"


def state_of(record: Mapping[str, Any]) -> str:
    return str(record.get("status", "queued"))


def _job(case: Case, answer: Answer) -> dict[str, Any] | None:
    body = answer.json_or_none()
    ok = case.operation == "callback" or 200 <= answer.status < 300
    return body if ok and isinstance(body, dict) and isinstance(body.get("id"), str) else None


def records_in(case: Case, answer: Answer) -> list[dict[str, Any]]:
    job = _job(case, answer) if case.operation in OPERATIONS else None
    return [job] if job is not None else []


def allowed_statuses(case: Case) -> set[int]:
    if not case.valid:
        return {400}
    if case.expect_status is not None:
        return {case.expect_status, 429}
    return {201 if case.operation == "create" else 200, 403, 429}


def schema_for(case: Case, answer: Answer) -> str | None:
    if answer.status >= 400:
        return PACK.error
    return (
        PACK.schema("job") if 200 <= answer.status < 300 or case.operation == "callback" else None
    )


def reason(answer: Answer) -> str | None:
    body = answer.json_or_none()
    said = body.get("oops") if isinstance(body, dict) else None
    return said if isinstance(said, str) else None


def observe(history: TaskHistory, case: Case, answer: Answer) -> None:
    for job in records_in(case, answer):
        history.add(job["id"], job)
        if STATES.get(state_of(job)) == 2:
            history.remember_result(job["id"], f"an earlier {case.operation}", job)


@check("toy-prompt-echoed", "a job shows the prompt it was made with", ("create",), (PACK.name,))
def prompt_echoed(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    job = _job(case, answer)
    asked = case.body.get("prompt") if isinstance(case.body, dict) else None
    if job is None or asked is None:
        return SKIPPED
    if job.get("prompt") != asked:
        fail("the job shows another prompt", expected=asked, actual=job.get("prompt"))


@check(
    "toy-callback", "a callback is the ended job, as the schema says", ("callback",), (PACK.name,)
)
def callback(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    from contract_tests.contract import check as verdict

    body = answer.json_or_none()
    found = verdict(PACK.schema("job"), body)
    if not found.ok:
        fail("the callback is not a job", expected=PACK.schema("job"), actual=found.message)
    if STATES.get(state_of(body)) != 2:
        fail("the callback came before the job ended", expected="done or failed",
             actual=state_of(body))  # fmt: skip
