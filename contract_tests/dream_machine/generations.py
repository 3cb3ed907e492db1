"""The Dream Machine dialect's checks of generations over time and of callbacks: states
only move forward, set fields never change, a failed generation says why, a page agrees
with its query and count, a deleted generation is gone, a callback is a Generation of
its id. They read the run's memory (`CheckContext.history`), which `answers.observe`
fills after the checks have seen each exchange.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from ..checks import SKIPPED, Answer, Case, CheckContext, check
from ..contract import schema as contract
from . import PACK
from .records import ANSWERS, DM, ENDED, SET_ONCE, _came, _fail, _generation, _generations

# -- generations over time -------------------------------------------------------------------


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
        return SKIPPED  # body-schema says what is wrong
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
    verdict = contract.check(PACK.schema("generation"), body)
    if not verdict.ok:
        _fail(
            "the callback is not a Generation",
            expected=PACK.schema("generation"),
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
