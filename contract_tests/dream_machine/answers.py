"""The Dream Machine dialect's answers (`checks.Answers`): how a Generation reads (from
`records`), the statuses and schemas its contract gives each answer (which the checks
every dialect shares ask: `checks.answers`), and its own checks, registered as this
module loads: each answer on its own here, generations over time and callbacks in
`generations`, media in `media`.

Operations: ``create`` (POST /generations/video, /image, reframe, modify: 201 and a
Generation), ``get``, ``derive`` (POST /generations/{id}/upscale or /audio: 200 and a
Generation, or 409 when that generation is in no state for it), ``list`` (a page),
``delete`` (204, no body), ``ping``, ``credits``, and ``callback`` (a Generation
POSTed to our receiver). Errors are ``{"detail": "..."}`` with a status the official
SDKs map to one of their exceptions.

The checks read the run's memory: `records.observe` keeps every Generation seen per id
and the ids deleted, after the checks have seen it.
"""

from __future__ import annotations

from ..checks import SKIPPED, Answer, Case, CheckContext, check
from . import PACK
from .records import (
    ANSWERS,
    DM,
    INVALID,
    OPERATIONS,
    REASON,
    SDK_STATUSES,
    STATES,
    UNAUTHORIZED,
    _came,
    _fail,
    _generation,
    observe,
    reason,
    records_in,
    state_of,
)

# `checks.Answers`, with allowed_statuses and schema_for below
__all__ = ["INVALID", "OPERATIONS", "REASON", "STATES", "UNAUTHORIZED"]
__all__ += ["observe", "reason", "records_in", "state_of"]

SUCCESS = {"create": 201, "delete": 204}  # the rest: 200


def success_status(case: Case) -> int:
    return SUCCESS.get(case.operation, 200)


def allowed_statuses(case: Case) -> set[int]:
    """The statuses the contract allows for this case (429 always: a rate limit)."""
    if case.auth != "valid":
        return {401}
    if not case.valid:
        return {400}
    if case.expect_status is not None:
        return {case.expect_status, 429}
    if case.operation == "create":
        return {201, 403, 429}  # 403: out of credits
    if case.operation == "derive":
        return {200, 409, 429}  # 409: the generation cannot be upscaled or given audio
    return {success_status(case), 429}


def schema_for(case: Case, answer: Answer) -> str | None:
    if answer.status >= 400:
        return PACK.error
    if not 200 <= answer.status < 300 or answer.status == 204:
        return None
    stem = {
        "create": "generation",
        "get": "generation",
        "derive": "generation",
        "list": "list",
        "ping": "ping",
        "credits": "credits",
        "callback": "generation",
    }.get(case.operation)
    return None if stem is None else PACK.schema(stem)


# -- each answer on its own ----------------------------------------------------------------


@check("dm-error-status", "an error is a status the SDKs map (400…429, 5xx)", ANSWERS, DM)
def dm_error_status(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if answer.status < 400:
        return SKIPPED
    if answer.status not in SDK_STATUSES and answer.status < 500:
        _fail(
            f"error status {answer.status} has no exception of its own in the SDKs",
            expected=", ".join(str(s) for s in sorted(SDK_STATUSES)) + " or 5xx",
            actual=_came(answer),
        )


@check("dm-valid-accepted", "a valid request with a valid token is answered 2xx", ANSWERS, DM)
def dm_valid_accepted(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if not case.valid or case.auth != "valid" or case.expect_status not in (None, 200, 201, 204):
        return SKIPPED
    if case.operation == "derive" and answer.status == 409:
        return None  # a valid body, and a generation in no state for it: a conflict, not a refusal
    if not 200 <= answer.status < 300:
        _fail(f"a valid {case.label or case.operation} request was refused", "2xx", _came(answer))


@check(
    "dm-generation-echoes",
    "a new generation is queued or further, of the model and kind asked for",
    ("create",),
    DM,
)
def dm_generation_echoes(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    made = _generation(case, answer)
    asked = case.body if isinstance(case.body, dict) else None
    if made is None or asked is None:
        return SKIPPED
    if asked.get("model") is not None and made.get("model") not in (None, asked["model"]):
        _fail(
            "the generation is of another model", expected=asked["model"], actual=made.get("model")
        )
    kind = "image" if "/image" in case.path else "video"
    plain = case.path.rstrip("/").endswith(("/generations/video", "/generations/image"))
    # What kind a reframe or modify answers is not documented: only plain creates say.
    if plain and made.get("generation_type") not in (None, kind):
        _fail(
            "the generation is of another kind", expected=kind, actual=made.get("generation_type")
        )
    if made["id"] in ctx.history.records:
        _fail("a create answered an id seen before", expected="a new id", actual=made["id"])


@check(
    "dm-get-answers-id",
    "get, upscale and audio answer the generation asked for",
    ("get", "derive"),
    DM,
)
def dm_get_answers_id(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    made = _generation(case, answer)
    if made is None or not case.task_id:
        return SKIPPED
    if case.operation == "get" and made["id"] != case.task_id:
        _fail("get answered another generation", expected=case.task_id, actual=made["id"])
    if case.operation == "derive" and made["id"] in ctx.history.deleted:
        _fail(
            "upscale/audio answered a deleted generation", expected="a live id", actual=made["id"]
        )


# isort: off
# Registered after the checks above, and run in that order: generations over time and
# callbacks, then media.
from . import generations  # noqa: E402, F401 - imported for its checks
from . import media  # noqa: E402, F401 - imported for its check
# isort: on
