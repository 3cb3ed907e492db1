"""The AceDataCloud dialect's answers (`checks.Answers`): how its records read (from
`records`), the statuses and schemas its contract gives each answer (which the checks
every dialect shares ask: `checks.answers`), and its own checks, registered as this
module loads: each answer on its own here (an error's code is documented with that
status, a valid request is accepted), then
tasks over time and callbacks (`tasks`), then media (`media`).

Operations: ``videos`` and ``tasks`` (answers of the API, ``POST /luma/<operation>``),
``callback`` (a body the server POSTed to our receiver; the case is the request that
asked for it).
"""

from __future__ import annotations

from typing import Any

from ..checks import SKIPPED, Answer, Case, CheckContext, check, fail
from ..contract import schema as contract
from . import PACK
from .records import NAME, OPERATIONS, STATES, action, mode, observe, records_in, state_of

__all__ = ["OPERATIONS", "STATES", "observe", "records_in", "state_of"]  # `checks.Answers`

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
        failures = ERROR_STATUSES_SYNC if mode(case) == "sync" else ERROR_STATUSES_SUBMIT
        return {200} | failures
    return {200, 429}


def schema_for(case: Case, answer: Answer) -> str | None:
    """The schema the answer's body must satisfy, by operation and status."""
    if answer.status >= 400:
        return PACK.error
    if answer.status != 200:
        return None
    if case.operation == "videos":
        return PACK.schema("videos-result" if mode(case) == "sync" else "videos-accepted")
    if case.operation == "tasks":
        return PACK.schema("tasks-batch" if action(case) == "retrieve_batch" else "task-record")
    return None


def _error_code(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


INVALID, UNAUTHORIZED = "bad_request", "invalid_token"  # the codes of those refusals
REASON = "{error: {code}}"


def reason(answer: Answer) -> str | None:
    """An error answer's code (``bad_request``)."""
    return _error_code(answer.json_or_none())


def _wrong_answer(title: str, expected: str, answer: Answer, code: str | None = None) -> None:
    """Fail a check of the answer's status: what came is the status with the error code,
    or with the start of the body when there is no code."""
    fail(title, expected=expected, actual=f"{answer.status} {code or answer.text[:200]}")


# -- answers of the API ----------------------------------------------------------------


@check(
    "error-code-status",
    "an error's code is documented and its x-status is the HTTP status",
    OPERATIONS,
    (NAME,),
)
def error_code_status(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    code = _error_code(answer.json_or_none())
    if code is None:
        return SKIPPED
    known = contract.error_codes(PACK.error).get(code)
    if known is None:
        fail(f"undocumented error code {code!r}", expected="a code of error.json", actual=code)
    elif known.status != answer.status:
        fail(
            f"error code {code!r} came with HTTP {answer.status}",
            expected=f"HTTP {known.status} for {code}",
            actual=f"HTTP {answer.status}",
        )


@check("valid-accepted", "a valid request with a valid token is answered 2xx", OPERATIONS, (NAME,))
def valid_accepted(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if not case.valid or case.auth != "valid" or case.expect_status not in (None, 200):
        return SKIPPED
    if not 200 <= answer.status < 300:
        _wrong_answer(f"a valid {case.label or case.operation} request was refused", "2xx", answer)


# isort: off
# Registered after the checks above, and run in that order: tasks over time and
# callbacks, then media.
from . import tasks  # noqa: E402, F401 - imported for its checks
from . import media  # noqa: E402, F401 - imported for its checks
# isort: on
