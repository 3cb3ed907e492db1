"""The checks of a Dream Machine client (operation ``client``, dialect
``dream-machine``) beside those every dialect shares (`contract_tests.checks.client`),
and its judgement for the shared ones said in its words (`request_conforms`,
`fields_sent`, `raises_on_error`, `answer_returned`): what one call through the adapter
sent — every request as the fake's journal saw it, headers and arrival time included —
and what it returned or raised.

**Billing.** A create *may bill* when the service answered it 2xx (a generation was
made) or its answer never came back whole (the client cannot know). An error answer —
400, 401, 403, 404, 429, 5xx — made no generation: retrying after one costs nothing, as
long as the client waits as it is told (``retry-after-ms``, ``retry-after``) and stops
when told not to (``x-should-retry: false``) or when the error is the request's own
fault (4xx other than 408, 409 and 429, which the SDKs retry).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from ..checks.client import CLIENT, as_call, as_json
from ..checks.client_calls import ClientCall, Seen
from ..checks.exchanges import Answer, Case, fail
from ..checks.registry import SKIPPED, check
from ..contract import schema as contract
from . import PACK

DM = (PACK.name,)
CREATES = {"create_video": "/generations/video", "create_image": "/generations/image"}
REQUESTS = {
    "create_video": PACK.schema("video-request"),
    "create_image": PACK.schema("image-request"),
}
RETRYABLE = frozenset({408, 409, 429})  # the 4xx the SDKs retry (and every 5xx)
MIN_POLL_GAP = 0.1  # seconds: a client polls a generation at most 10 times a second
EARLY = 0.05  # seconds a retry may come before its retry-after (clocks, rounding)
CHECKS = (
    "request-sent", "dm-auth-bearer", "request-conforms", "fields-sent",
    "one-bill-per-call", "dm-no-retry-on-4xx", "dm-honours-retry-after",
    "dm-honours-should-retry", "raises-on-error", "raises-on-fault", "answer-returned",
    "dm-reports-failure", "dm-polls-bounded",
)  # fmt: skip


def checks_for(call: ClientCall) -> tuple[str, ...]:
    """Every check runs on every call: each skips what is not its business."""
    return CHECKS


def may_bill(seen: Seen) -> bool:
    """A create answered 2xx, or whose answer was lost (the module's docstring)."""
    if not (seen.method == "POST" and PACK.is_billable(seen.method, seen.path)):
        return False
    return seen.lost or 200 <= (seen.status or 0) < 300


def _held(title: str, expected: Any, actual: Any) -> None:
    fail(title, expected=str(expected), actual=str(actual))


def _bearer(sent: str | None, token: str) -> bool:
    """Whether ``sent`` is ``Bearer <token>`` — as sent, or as the fake's journal keeps
    it, redacted to the scheme and the token's last four characters."""
    if sent is None:
        return False
    hint = f"…{token[-4:]}" if len(token) > 8 else "…"
    return sent in (f"Bearer {token}", f"Bearer {hint}")


# -- every call --------------------------------------------------------------------------


@check("dm-auth-bearer", "every request carries Authorization: Bearer <the token>", (CLIENT,), DM)
def dm_auth_bearer(ctx: Any, case: Case, answer: Answer) -> bool | None:
    call = as_call(case)
    for seen in call.sent:
        if not seen.headers:
            continue  # the proxy's records keep no headers
        sent = seen.headers.get("authorization")
        if not _bearer(sent, call.token):
            shown = (sent or "none").replace(call.token, "<token>")
            _held(f"{seen.method} {seen.path} without the bearer token", "Bearer <token>", shown)


def request_conforms(call: ClientCall, answer: Answer) -> bool | None:
    schema = REQUESTS.get(call.call)
    if schema is None:
        return SKIPPED
    for seen in call.sent:
        if not call.wanted(seen):
            continue
        verdict = contract.check(schema, seen.body)
        if not verdict.ok:
            _held("a create body breaks the contract", schema, verdict.message)
        if seen.status == 400 and call.expect != "error":
            _held("the service refused a create", "2xx", f"400 {seen.answer}")
    return None


def fields_sent(call: ClientCall, answer: Answer) -> bool | None:
    seen = call.last()
    if seen is None:
        return SKIPPED
    if call.call in CREATES:
        body = seen.body if isinstance(seen.body, dict) else {}
        changed = {k: body.get(k) for k, v in call.fields.items() if body.get(k) != v}
        if changed:
            _held("fields changed on the way", {k: call.fields[k] for k in changed}, changed)
    elif call.call == "list":
        asked = {k: str(v) for k, v in call.fields.items() if v is not None}
        got = {k: seen.query.get(k) for k in asked}
        if got != asked:
            _held("limit/offset did not reach the service", asked, got)
    return None


@check(
    "dm-no-retry-on-4xx",
    "no request is repeated after a 4xx that is its own fault",
    (CLIENT,),
    DM,
)
def dm_no_retry_on_4xx(ctx: Any, case: Case, answer: Answer) -> bool | None:
    call = as_call(case)
    for before, after in pairwise(call.sent):
        final = (
            before.status is not None
            and 400 <= before.status < 500
            and before.status not in RETRYABLE
        )
        if final and (after.method, after.path) == (before.method, before.path):
            _held(
                f"{before.method} {before.path} retried after {before.status}",
                "no retry",
                f"{before.status}, then again",
            )


@check("dm-honours-retry-after", "a retry waits as long as retry-after(-ms) asked", (CLIENT,), DM)
def dm_honours_retry_after(ctx: Any, case: Case, answer: Answer) -> bool | None:
    call = as_call(case)
    pairs = [(b, a) for b, a in pairwise(call.sent) if b.wait_asked() is not None]
    if not pairs:
        return SKIPPED
    for before, after in pairs:
        asked = before.wait_asked() or 0.0
        if before.arrived is None or after.arrived is None:
            continue  # no arrival times (the proxy's records)
        waited = after.arrived - before.arrived
        if 0 < asked <= 60 and waited < asked - EARLY:
            _held(
                f"retried {waited:.2f} s after a {before.status} that asked for {asked:g} s",
                f">= {asked:g} s",
                f"{waited:.2f} s",
            )
    return None


@check("dm-honours-should-retry", "nothing is retried after x-should-retry: false", (CLIENT,), DM)
def dm_honours_should_retry(ctx: Any, case: Case, answer: Answer) -> bool | None:
    call = as_call(case)
    told = [i for i, s in enumerate(call.sent) if s.answer_headers.get("x-should-retry") == "false"]
    if not told:
        return SKIPPED
    for index in told:
        before = call.sent[index]
        again = [
            s for s in call.sent[index + 1 :] if (s.method, s.path) == (before.method, before.path)
        ]
        if again:
            _held(
                f"{before.method} {before.path} retried after x-should-retry: false",
                "no retry",
                f"{len(again)} more",
            )
    return None


# -- what came of the call -----------------------------------------------------------------


def raises_on_error(call: ClientCall, answer: Answer) -> bool | None:
    last = call.last()
    if (
        call.expect == "either"
        and last is not None
        and last.status is not None
        and last.status < 400
    ):
        return SKIPPED  # it retried past the error: the answer's checks apply
    if call.expect not in ("error", "either"):
        return SKIPPED
    if not call.in_time:
        _held("the call did not end", "an exception", "still running at the suite's bound")
    if call.raised is None:
        _held(
            f"{call.call} returned on a {last.status if last else '?'} answer",
            "an exception",
            as_json(call.returned),
        )


def answer_returned(call: ClientCall, answer: Answer) -> bool | None:
    last = call.last()
    if (
        call.expect not in ("answer", "either")
        or last is None
        or last.status is None
        or last.status >= 400
    ):
        return SKIPPED
    if call.raised is not None or not call.in_time:
        what = f"{type(call.raised).__name__}: {call.raised}" if call.raised else "no end"
        _held(f"{call.call} did not return on a {last.status}", "the answer", what)
    returned = as_json(call.returned)
    if call.call == "delete":
        return None
    if call.call == "list":
        ids = [g.get("id") for g in (returned or {}).get("generations", []) if isinstance(g, dict)]
        wanted = [g["id"] for g in last.answer["generations"]]
        if ids != wanted:
            _held("list returned other generations", wanted, ids)
        return None
    for key in ("id", "state"):
        got = returned.get(key) if isinstance(returned, dict) else None
        if got != last.answer.get(key):
            _held(f"{call.call} returned another {key}", last.answer.get(key), got)
    return None


@check(
    "dm-reports-failure",
    "a failed generation is reported failed, with its failure_reason",
    (CLIENT,),
    DM,
)
def dm_reports_failure(ctx: Any, case: Case, answer: Answer) -> bool | None:
    call = as_call(case)
    last = call.last()
    if call.expect != "failed" or last is None or not isinstance(last.answer, dict):
        return SKIPPED
    reason = last.answer.get("failure_reason")
    returned = as_json(call.returned)
    if call.raised is not None:
        if reason and reason not in str(call.raised):
            _held(
                "the error raised does not say why the generation failed", reason, str(call.raised)
            )
        return None
    got = (returned or {}).get("state"), (returned or {}).get("failure_reason")
    if got != ("failed", reason):
        _held(
            "a failed generation was not reported as failed with its reason",
            ["failed", reason],
            list(got),
        )
    return None


@check(
    "dm-polls-bounded",
    "a wait polls at most 10 times a second, and stops at the end",
    (CLIENT,),
    DM,
)
def dm_polls_bounded(ctx: Any, case: Case, answer: Answer) -> bool | None:
    call = as_call(case)
    if call.call != "wait":
        return SKIPPED
    polls = [s for s in call.sent if call.wanted(s)]
    for before, after in pairwise(polls):
        gap = (after.arrived or 0.0) - (before.arrived or 0.0)
        if before.arrived is not None and after.arrived is not None and gap < MIN_POLL_GAP:
            _held("polled too fast", f">= {MIN_POLL_GAP:g} s between polls", f"{gap:.3f} s")
        if isinstance(before.answer, dict) and before.answer.get("state") in (
            "completed",
            "failed",
        ):
            _held(
                "polled on after the generation had ended",
                "no poll after completed or failed",
                before.answer.get("state"),
            )
    return None
