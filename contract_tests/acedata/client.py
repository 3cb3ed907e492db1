"""The checks of an AceData client (operation ``client``, dialect ``acedata``) beside
those every dialect shares (`contract_tests.checks.client`), this API's judgement for
the shared ones said in its words (`request_conforms`, `fields_sent`, `raises_on_error`,
`answer_returned`), which checks apply to a call (`checks_for`), and its billing rule
(`may_bill`).

**Billing.** A request *may bill* — may have made a task, and so cost a video — when it
is a ``POST /luma/videos`` that passed validation and the service did not say that no
task was made: a 2xx made one; an answer lost or broken on the way (reset, empty reply,
cut short, malformed, hang) leaves the client unable to know; a 504 ``timeout`` means
the task may be running on (a synchronous call that times out leaves its task going);
an error answer that names its ``task_id`` made one. Every other error answer — 401,
403, 404, 429, 500, 502, 503 — says no task was made, so a retry after it costs
nothing.
"""

from __future__ import annotations

import json
from typing import Any

from ..checks.client import (
    CLIENT,
    as_call,
    differences,
    fail_if_it_returned,
    same,
    short,
)
from ..checks.client_calls import ClientCall, Seen
from ..checks.context import CheckContext
from ..checks.exchanges import Answer, Case, fail
from ..checks.payments import X402_CHECKS as X402_CHECKS  # registered on the way
from ..checks.registry import SKIPPED, check
from . import PACK
from .records import state_of

ACEDATA = (PACK.name,)
API_PATHS = ("/luma/videos", "/luma/tasks")
MAY_HAVE_MADE_A_TASK = 504  # the one error status that does not say "no task was made"
FINISHED_WORDS = frozenset({"completed", "complete", "succeeded", "success", "finished", "done"})
SHARED_CHECKS = ("request-sent", "request-conforms", "fields-sent", "one-bill-per-call")
CHECKS_BY_EXPECTATION = {
    "answer": ("task-id-matches", "answer-returned"),
    "running": ("no-early-completion", "task-id-matches", "answer-returned"),  # a held task
    "error": ("raises-on-error",),
    "fault": ("raises-on-fault",),
}
CHECKS: tuple[str, ...] = (
    "request-sent",
    "request-conforms",
    "fields-sent",
    "one-bill-per-call",
    "callback-url-sent",
    "raises-on-error",
    "raises-on-fault",
    "no-early-completion",
    "task-id-matches",
    "answer-returned",
)


def checks_for(call: ClientCall) -> tuple[str, ...]:
    """The checks that apply to this call, in the order they run."""
    callback = ("callback-url-sent",) if "callback_url" in call.fields else ()
    paying = X402_CHECKS if call.x402 else ()
    return SHARED_CHECKS + callback + CHECKS_BY_EXPECTATION[call.expect] + paying


def may_bill(seen: Seen) -> bool:
    """Whether this request may have made a task (the module's docstring gives the rule)."""
    if not PACK.is_billable(seen.method, seen.path):
        return False
    if not (seen.verdict or {}).get("ok"):
        return False  # refused by validation: no task
    if seen.lost:
        return True  # the answer was lost: the client cannot know whether a task exists
    status = seen.status or 0
    if 200 <= status < 300 or status == MAY_HAVE_MADE_A_TASK:
        return True
    return isinstance(seen.answer, dict) and bool(seen.answer.get("task_id"))


def problem(seen: Seen, refusal_expected: bool = False) -> str | None:
    """What is wrong with this request by the contract, if anything. A 400 that no rule
    of the suite asked for means the service could not take it, and so does a 404 on
    /luma/videos (a video_id it never made) — unless the call was meant to be refused."""
    api = seen.path in API_PATHS
    unknown_path = seen.status == 404 and not api
    if (unknown_path or seen.status == 405) and seen.rule is None:
        return f"the service has no {seen.method} {seen.path} ({_error_text(seen.answer)})"
    if not api or seen.status is None:
        return None
    if seen.status == 402 and seen.verdict is None:
        return None  # the gateway's challenge, or its refusal of a payment: not the body's
    if seen.verdict is None:
        return f"refused before it could be read: {seen.status} {_error_text(seen.answer)}"
    if not seen.verdict.get("ok"):
        return f"{seen.verdict.get('schema')}: " + "; ".join(seen.verdict.get("problems", []))
    refused = seen.status == 400 or (seen.status == 404 and seen.path == "/luma/videos")
    if refused and seen.rule is None and not refusal_expected:
        return f"the service refused it: {seen.status} {_error_text(seen.answer)}"
    return None


def _error_text(answer: Any) -> str:
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict):
        return f"{error.get('code')}: {error.get('message')}"
    return json.dumps(answer)[:120] if answer is not None else "no answer"


def expected_body(call: ClientCall) -> dict[str, Any]:
    """The fields the request must carry (callback_url has a check of its own)."""
    if call.call == "retrieve":
        return {"action": "retrieve", "id": call.fields["task_id"]}
    wanted = {k: v for k, v in call.fields.items() if k != "callback_url"}
    return {"action": call.call, **wanted}


def finished_signs(value: Any) -> list[str]:
    """What in a value the client returned says "this task is finished": a finished
    state word, a success flag or a video URL, at the top or in its ``response``."""
    signs: list[str] = []
    if not isinstance(value, dict):
        return signs
    places = [("", value)]
    if isinstance(value.get("response"), dict):
        places.append(("response.", value["response"]))
    for prefix, node in places:
        for key in ("state", "status"):
            word = node.get(key)
            if isinstance(word, str) and word.lower() in FINISHED_WORDS:
                signs.append(f"{prefix}{key} is {word!r}")
        if node.get("success") is True:
            signs.append(f"{prefix}success is true")
        if node.get("video_url"):
            signs.append(f"{prefix}video_url is {node['video_url']!r}")
    return signs


# -- the checks of an AceData client -------------------------------------------------------


def request_conforms(call: ClientCall, answer: Answer) -> bool | None:
    for seen in call.sent:
        found = problem(seen, refusal_expected=call.expect == "error")
        if found:
            fail(
                f"{call.call} sent a request that breaks the contract: {found}",
                expected=f"a body that {seen.path[1:].replace('/', '-')}-request accepts",
                actual=f"{seen.method} {seen.path} {short(seen.body)}",
            )


def fields_sent(call: ClientCall, answer: Answer) -> bool | None:
    seen = call.last()
    if seen is None or not isinstance(seen.body, dict):
        return SKIPPED  # request-sent and request-conforms say what is wrong
    body = {"action": "generate", **seen.body} if call.call == "generate" else seen.body
    wanted_body = expected_body(call)
    wrong = []
    for name, wanted in wanted_body.items():
        if name not in body:
            wrong.append(f"{name} missing (given {short(wanted, 60)})")
        elif not same(body[name], wanted):
            wrong.append(f"{name} is {short(body[name], 60)}, given {short(wanted, 60)}")
    if wrong:
        fail(
            f"{call.call} did not send what it was given: {'; '.join(wrong)}",
            expected=short(wanted_body),
            actual=short(seen.body),
        )


@check(
    "callback-url-sent",
    "a callback_url given to the client reaches the service",
    (CLIENT,),
    ACEDATA,
)
def callback_url_sent(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    call = as_call(case)
    seen = call.last()
    wanted = call.fields.get("callback_url")
    if seen is None or wanted is None:
        return SKIPPED
    sent = seen.body.get("callback_url") if isinstance(seen.body, dict) else None
    if sent != wanted:
        fail(
            f"{call.call} was given callback_url but "
            + ("did not send it" if sent is None else "sent another one")
            + ": the result would never reach the caller",
            expected=f"callback_url {wanted!r}",
            actual=f"callback_url {sent!r}" if sent is not None else short(seen.body),
        )


def raises_on_error(call: ClientCall, answer: Answer) -> bool | None:
    if 200 <= answer.status < 300:
        return SKIPPED  # no error came (the real service may know an id we thought unknown)
    body = answer.json_or_none()
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else call.error_code
    what = f"{answer.status} {code}" if answer.status else str(code)
    if not call.in_time:
        fail(
            f"{call.call} neither raised nor returned within {call.bound:g} s of a {what}",
            expected="an exception",
            actual="still running (retrying forever?)",
        )
    if call.last() is not None:
        fail_if_it_returned(
            call,
            f"{call.call} returned on a {what} answer as if it had succeeded",
            expected=f"an exception (the service answered {what})",
        )


@check(
    "no-early-completion",
    "while a task is pending or processing the client does not report it finished",
    (CLIENT,),
    ACEDATA,
)
def no_early_completion(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    call = as_call(case)
    record = answer.json_or_none()
    if answer.status != 200 or not isinstance(record, dict) or call.raised is not None:
        return SKIPPED
    state = state_of(record)
    if state not in ("pending", "processing"):
        return SKIPPED
    signs = finished_signs(call.returned)
    if signs:
        fail(
            f"{call.call} reported a {state} task as finished: {'; '.join(signs)}",
            expected=f"what the service answered: the task is {state}",
            actual=short(_finished_part(call.returned)),
        )


def _finished_part(value: Any) -> Any:
    """The part of a returned value that says whether the task is finished."""
    if not isinstance(value, dict):
        return value
    keys = ("id", "state", "status", "success", "video_url", "response")
    return {k: value[k] for k in keys if k in value}


@check(
    "task-id-matches",
    "the task id the client returns is the one the service gave",
    (CLIENT,),
    ACEDATA,
)
def task_id_matches(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    call = as_call(case)
    body = answer.json_or_none()
    if not 200 <= answer.status < 300 or not isinstance(body, dict) or call.raised is not None:
        return SKIPPED
    key = "id" if call.call == "retrieve" else "task_id"
    wanted = body.get(key)
    got = call.returned.get(key) if isinstance(call.returned, dict) else None
    if wanted is None:
        return SKIPPED
    if got != wanted:
        fail(
            f"{call.call} returned {key} {got!r}, but the service answered {wanted!r}",
            expected=f"{key} {wanted!r}",
            actual=f"{key} {got!r}",
        )


def answer_returned(call: ClientCall, answer: Answer) -> bool | None:
    if not 200 <= answer.status < 300:
        return SKIPPED
    body = answer.json_or_none()
    if not call.in_time:
        fail(
            f"{call.call} did not return within {call.bound:g} s of a {answer.status} answer",
            expected=short(body),
            actual="still running",
        )
    if call.raised is not None:
        fail(
            f"{call.call} raised although the service answered {answer.status}",
            expected=short(body),
            actual=f"{type(call.raised).__name__}: {call.raised}",
        )
    if not same(call.returned, body):
        fail(
            f"{call.call} returned something else than the service answered: "
            + "; ".join(differences(body, call.returned)),
            expected=short(body),
            actual=short(call.returned),
        )
