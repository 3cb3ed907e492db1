"""The checks every dialect's answers share, each asking the case's dialect (its
``answers`` module, `dialects.Answers`) what its contract says: an answer of the API is
JSON (``content-type-json``), its status is one the contract allows for what was sent
(``status-allowed``), its body matches the schema for its status and operation — a 204
none at all (``body-schema``) —, a body that breaks a rule is refused with 400 and a
token that is missing, malformed or wrong with 401, each with the reason the contract
gives (``invalid-rejected``, ``auth-required``), and a record's state never goes back
(``states-forward``). The rest of a dialect's checks are its own
(``contract_tests.<dialect>.answers``).
"""

from __future__ import annotations

from ..contract import schema as contract
from .context import CheckContext
from .dialects import answers_of
from .exchanges import Answer, Case, fail
from .registry import SKIPPED, check


def came(case: Case, answer: Answer) -> str:
    """What came, for a failure: the status with the error's reason in the dialect's
    words (`Answers.reason`), or with the start of the body."""
    return f"{answer.status} {answers_of(case.dialect).reason(answer) or answer.text[:200]}"


@check("content-type-json", "answers of the API are JSON (content-type application/json)")
def content_type_json(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if case.operation not in answers_of(case.dialect).OPERATIONS:
        return SKIPPED  # a callback, the end of a wait, a client's call: not an answer
    if answer.status == 204:
        return SKIPPED  # no content (a delete): body-schema says it is empty
    kind = answer.content_type
    if kind != "application/json" and not kind.endswith("+json"):
        fail("the answer is not JSON", expected="application/json", actual=kind or "none")


@check("status-allowed", "the status is one the contract allows for that input")
def status_allowed(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    answers = answers_of(case.dialect)
    if case.operation not in answers.OPERATIONS or (case.auth == "wrong" and ctx.any_token):
        return SKIPPED
    allowed = {401} if case.auth != "valid" else answers.allowed_statuses(case)
    if answer.status not in allowed:
        fail(
            f"status {answer.status} is not allowed for {case.label or case.operation}",
            expected=" or ".join(str(s) for s in sorted(allowed)),
            actual=came(case, answer),
        )


@check("body-schema", "the body matches the schema for its status and operation")
def body_schema(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    answers = answers_of(case.dialect)
    if case.operation not in answers.OPERATIONS:
        return SKIPPED
    if answer.status == 204:
        if answer.content.strip():
            fail("a 204 carries a body", expected="no content", actual=answer.text[:200])
        return None
    name = answers.schema_for(case, answer)
    if name is None:
        return SKIPPED
    try:
        body = answer.json()
    except ValueError as bad:
        fail("the body is not JSON", expected=f"a JSON document ({name})",
             actual=f"{bad}: {answer.text[:200]!r}")  # fmt: skip
    verdict = contract.check(name, body)
    if not verdict.ok:
        fail(f"the {answer.status} body does not match {name}", expected=name,
             actual=verdict.message)  # fmt: skip


def _refusal(case: Case, status: int, wanted: str | None) -> str:
    return f"{status} {wanted or answers_of(case.dialect).REASON}"


@check("invalid-rejected", "an invalid request is 400 with its reason, never 2xx or 5xx")
def invalid_rejected(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    answers = answers_of(case.dialect)
    if case.operation not in answers.OPERATIONS or case.valid or case.auth != "valid":
        return SKIPPED
    reason = answers.reason(answer)
    if answer.status == 400 and reason and answers.INVALID in (None, reason):
        return None
    what = "accepted" if answer.status < 300 else "a server error" if answer.status >= 500 else (
        "rejected with the wrong status or reason")  # fmt: skip
    fail(f"a request breaking {case.label!r} was {what}",
         expected=_refusal(case, 400, answers.INVALID), actual=came(case, answer))  # fmt: skip


@check("auth-required", "a missing or malformed token (or a wrong one) is 401 with its reason")
def auth_required(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    answers = answers_of(case.dialect)
    if case.operation not in answers.OPERATIONS or case.auth == "valid":
        return SKIPPED
    if case.auth == "wrong" and ctx.any_token:
        return SKIPPED
    reason = answers.reason(answer)
    if answer.status != 401 or not reason or answers.UNAUTHORIZED not in (None, reason):
        hint = " (a target that takes any token by design: --any-token)" * (case.auth == "wrong")
        expected = _refusal(case, 401, answers.UNAUTHORIZED)
        title = f"a request with a {case.auth} token was not refused{hint}"
        fail(title, expected=expected, actual=came(case, answer))


@check("states-forward", "a record's state only moves forward, and an ended one stays as it is")
def states_forward(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    answers = answers_of(case.dialect)
    seen = [(r, ctx.history.last(str(r.get("id")))) for r in answers.records_in(case, answer)]
    seen = [(now, before) for now, before in seen if before is not None]
    if not seen:
        return SKIPPED  # nothing seen before to compare with
    order, end = answers.STATES, max(answers.STATES.values())
    for now, before in seen:
        was, state = answers.state_of(before), answers.state_of(now)
        if order.get(state, -1) < order.get(was, -1) or (order.get(was) == end and state != was):
            fail(f"{now.get('id')} went from {was} to {state}", expected=f"{was} or later",
                 actual=state)  # fmt: skip
