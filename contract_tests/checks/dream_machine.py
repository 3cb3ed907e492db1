"""Checks of the Dream Machine dialect's answers (`Case.dialect` ``dream-machine``).

Operations: ``create`` (POST /generations/video, /image, reframe, modify: 201 and a
Generation), ``get``, ``derive`` (POST /generations/{id}/upscale or /audio: 200 and a
Generation), ``list`` (a page), ``delete`` (204, no body), ``ping``, ``credits``, and
``callback`` (a Generation POSTed to our receiver). Errors are ``{"detail": "..."}``
with a status the official SDKs map to one of their exceptions.

They read the run's memory like the AceData checks: `TaskHistory.observe_generation`
keeps every Generation seen per id and the ids deleted, after the checks have seen it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..contract import schema as contract
from .context import CheckContext
from .exchanges import Answer, Case, fail
from .registry import SKIPPED, check

DM = ("dream-machine",)
ANSWERS = ("create", "get", "list", "delete", "derive", "ping", "credits")
STATE_ORDER = {"queued": 0, "dreaming": 1, "completed": 2, "failed": 2}
ENDED = ("completed", "failed")
# The statuses the SDKs raise a named exception for (BadRequestError … InternalServerError);
# any other 4xx is a bare APIStatusError a client cannot tell apart.
SDK_STATUSES = frozenset({400, 401, 403, 404, 409, 422, 429})
SUCCESS = {"create": 201, "delete": 204}  # the rest: 200
SET_ONCE = ("id", "created_at", "model", "generation_type")


def _fail(title: str, expected: Any = "", actual: Any = "") -> None:
    """`fail`, taking what was expected and what came in order."""
    fail(title, expected=expected, actual=actual)


def success_status(case: Case) -> int:
    return SUCCESS.get(case.operation, 200)


def dm_allowed_statuses(case: Case) -> set[int]:
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


def dm_schema_for(case: Case, answer: Answer) -> str | None:
    if answer.status >= 400:
        return "dream-machine/error"
    if not 200 <= answer.status < 300 or answer.status == 204:
        return None
    return {
        "create": "dream-machine/generation",
        "get": "dream-machine/generation",
        "derive": "dream-machine/generation",
        "list": "dream-machine/list",
        "ping": "dream-machine/ping",
        "credits": "dream-machine/credits",
        "callback": "dream-machine/generation",
    }.get(case.operation)


def _detail(answer: Answer) -> str | None:
    body = answer.json_or_none()
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str) else None


def _came(answer: Answer) -> str:
    return f"{answer.status} {_detail(answer) or answer.text[:200]}"


def _generation(case: Case, answer: Answer) -> dict[str, Any] | None:
    if case.operation not in ("create", "get", "derive", "callback"):
        return None
    if case.operation != "callback" and not 200 <= answer.status < 300:
        return None
    body = answer.json_or_none()
    return body if isinstance(body, dict) and isinstance(body.get("id"), str) else None


def _generations(case: Case, answer: Answer) -> list[dict[str, Any]]:
    if case.operation == "list" and answer.status == 200:
        body = answer.json_or_none()
        found = body.get("generations") if isinstance(body, dict) else None
        if isinstance(found, list):
            return [g for g in found if isinstance(g, dict) and isinstance(g.get("id"), str)]
        return []
    one = _generation(case, answer)
    return [one] if one is not None and case.operation != "callback" else []


# -- each answer on its own ----------------------------------------------------------------


@check("dm-status-allowed", "the status is one the contract allows for that input", ANSWERS, DM)
def dm_status_allowed(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if case.auth == "wrong" and ctx.any_token:
        return SKIPPED
    allowed = dm_allowed_statuses(case)
    if answer.status not in allowed:
        _fail(
            f"status {answer.status} is not allowed for {case.label or case.operation}",
            expected=" or ".join(str(s) for s in sorted(allowed)),
            actual=_came(answer),
        )


@check("dm-body-schema", "the body matches its schema (Generation, list, error…)", ANSWERS, DM)
def dm_body_schema(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if answer.status == 204:
        if answer.content.strip():
            _fail("a 204 carries a body", expected="no content", actual=answer.text[:200])
        return None
    name = dm_schema_for(case, answer)
    if name is None:
        return SKIPPED
    try:
        body = answer.json()
    except ValueError:
        _fail("the body is not JSON", expected=name, actual=answer.text[:200])
    verdict = contract.check(name, body)
    if not verdict.ok:
        _fail(
            f"the {answer.status} body does not match {name}", expected=name, actual=verdict.message
        )


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
    "dm-invalid-rejected", "an invalid body is 400 with a detail naming the problem", ANSWERS, DM
)
def dm_invalid_rejected(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if case.valid or case.auth != "valid":
        return SKIPPED
    detail = _detail(answer)
    if answer.status != 400 or not detail:
        what = "accepted" if answer.status < 300 else "answered"
        _fail(f"a body breaking {case.label!r} was {what}", "400 {detail}", _came(answer))


@check("dm-auth-required", "a missing, malformed or wrong token is 401 {detail}", ANSWERS, DM)
def dm_auth_required(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if case.auth == "valid" or (case.auth == "wrong" and ctx.any_token):
        return SKIPPED
    if answer.status != 401 or not _detail(answer):
        hint = " (a target that takes any token by design: --any-token)" * (case.auth == "wrong")
        title = f"a request with a {case.auth} token was not refused{hint}"
        _fail(title, "401 {detail}", _came(answer))


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


# -- generations over time -------------------------------------------------------------------


@check("dm-states-forward", "queued → dreaming → completed | failed, never back", ANSWERS, DM)
def dm_states_forward(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    seen = [(g, ctx.history.last(g["id"])) for g in _generations(case, answer)]
    seen = [(now, before) for now, before in seen if before is not None]
    if not seen:
        return SKIPPED
    for now, before in seen:
        was, state = before.get("state"), now.get("state")
        if STATE_ORDER.get(state, -1) < STATE_ORDER.get(was, -1) or (was in ENDED and state != was):
            _fail(f"generation {now['id']} went from {was} to {state}", f"{was} or later", state)


@check(
    "dm-set-once",
    "id, created_at, model and kind never change; a finished one stays as it is",
    ANSWERS,
    DM,
)
def dm_set_once(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    pairs = [(g, ctx.history.last(g["id"])) for g in _generations(case, answer)]
    pairs = [(now, before) for now, before in pairs if before is not None]
    if not pairs:
        return SKIPPED
    for now, before in pairs:
        for key in SET_ONCE:
            if key in before and key in now and before[key] != now[key]:
                _fail(
                    f"generation {now['id']}'s {key} changed", expected=before[key], actual=now[key]
                )
        if before.get("state") in ENDED:
            for key in ("assets", "failure_reason"):
                if before.get(key) != now.get(key):
                    _fail(
                        f"finished generation {now['id']}'s {key} changed",
                        before.get(key),
                        now.get(key),
                    )


@check(
    "dm-failure-reason",
    "a failed generation says why; no other has a failure_reason",
    (*ANSWERS, "callback"),
    DM,
)
def dm_failure_reason(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    found = _generations(case, answer) or [g for g in [_generation(case, answer)] if g]
    if not found:
        return SKIPPED
    for generation in found:
        reason = generation.get("failure_reason")
        if generation.get("state") == "failed" and not (isinstance(reason, str) and reason.strip()):
            _fail(
                f"generation {generation['id']} failed without a reason", "a failure_reason", reason
            )
        if generation.get("state") != "failed" and reason not in (None, ""):
            _fail(
                f"generation {generation['id']} is {generation.get('state')} with a failure_reason",
                None,
                reason,
            )


@check(
    "dm-list-page",
    "count, has_more, limit and offset agree with the page and the query",
    ("list",),
    DM,
)
def dm_list_page(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    body = answer.json_or_none() if answer.status == 200 else None
    if not isinstance(body, dict) or not isinstance(body.get("generations"), list):
        return SKIPPED  # dm-body-schema says what is wrong
    page, count = body["generations"], body.get("count")
    query = dict(parse_qsl(urlsplit(case.path).query))
    try:
        limit, offset = int(query.get("limit", 100)), int(query.get("offset", 0))
    except ValueError:
        return SKIPPED  # a query the contract refuses: not a page to check
    if (body.get("limit"), body.get("offset")) != (limit, offset):
        _fail(
            "limit/offset are not the query's",
            expected=[limit, offset],
            actual=[body.get("limit"), body.get("offset")],
        )
    if len(page) > limit:
        _fail("the page is longer than limit", expected=f"at most {limit}", actual=len(page))
    if isinstance(count, int):
        if page and offset + len(page) > count:  # past the end, a page is empty
            _fail(
                "count is less than offset + the page",
                expected=f">= {offset + len(page)}",
                actual=count,
            )
        if body.get("has_more") != (offset + len(page) < count):
            _fail(
                "has_more disagrees with count",
                expected=offset + len(page) < count,
                actual=body.get("has_more"),
            )
    ids = [g.get("id") for g in page if isinstance(g, dict)]
    if len(ids) != len(set(ids)):
        _fail("a generation is listed twice on one page", expected="distinct ids", actual=ids)
    gone = sorted(set(ids) & ctx.history.deleted)
    if gone:
        _fail("the page lists deleted generations", expected="none of them", actual=gone)


@check(
    "dm-deleted-gone",
    "after a delete answered 204, the generation is 404",
    ("get", "delete", "derive"),
    DM,
)
def dm_deleted_gone(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if not case.task_id or case.task_id not in ctx.history.deleted or case.auth != "valid":
        return SKIPPED
    if answer.status != 404:
        _fail(f"deleted generation {case.task_id} still answers", "404 {detail}", _came(answer))


@check(
    "dm-callback-shape",
    "a callback is a Generation of its id, dreaming or further",
    ("callback",),
    DM,
)
def dm_callback_shape(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    body = answer.json_or_none()
    verdict = contract.check("dream-machine/generation", body)
    if not verdict.ok:
        _fail(
            "the callback is not a Generation",
            expected="dream-machine/generation",
            actual=verdict.message,
        )
    if case.task_id and body.get("id") != case.task_id:
        _fail("the callback names another generation", expected=case.task_id, actual=body.get("id"))
    if body.get("state") == "queued":
        _fail(
            "a callback for a queued generation",
            expected="dreaming, completed or failed",
            actual="queued",
        )
