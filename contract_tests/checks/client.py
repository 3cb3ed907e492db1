"""The checks of a client: ten checks of what one call through an adapter did.

Each check gets a `ClientCall` (`client_calls`: what the adapter was given, the requests
the client really sent as the fake's journal or the validating proxy saw them, what it
returned or raised) and the service's `Answer` to the client's last request. They sit
in the shared `REGISTRY` (`registry`) under the operation ``client`` and raise
`CheckFailure` (via `fail`), or return `SKIPPED` when the call is not their business.
The consumer suite (`contract_tests.consumer`) makes the calls and picks the checks.
`ClientCall`, `Seen` and the tables of which checks apply are imported here too
(``from contract_tests.checks.client import Seen``).
"""

from __future__ import annotations

import json
from typing import Any

from .client_calls import (
    CHECKS_BY_EXPECTATION,
    CLIENT,
    SHARED_CHECKS,
    ClientCall,
    Seen,
)
from .context import CheckContext
from .dialects import state_of
from .exchanges import Answer, fail
from .registry import SKIPPED, check

FINISHED_WORDS = frozenset({"completed", "complete", "succeeded", "success", "finished", "done"})


def _same(a: Any, b: Any) -> bool:
    """JSON equality: 300 == 300.0, but True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _short(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


# -- the checks of a client ---------------------------------------------------------


@check("request-sent", "the client sends its call to the documented endpoint", on=(CLIENT,))
def request_sent(ctx: CheckContext, call: ClientCall, answer: Answer) -> bool | None:
    if call.last() is None:
        others = ", ".join(f"{s.method} {s.path}" for s in call.sent) or "nothing"
        fail(
            f"{call.call} never sent POST {call.path}",
            expected=f"POST {call.path}",
            actual=f"the client sent {others}",
        )


@check(
    "request-conforms",
    "every request the client sends is one the contract accepts (unknown fields: warnings)",
    on=(CLIENT,),
)
def request_conforms(ctx: CheckContext, call: ClientCall, answer: Answer) -> bool | None:
    for seen in call.sent:
        problem = seen.problem(refusal_expected=call.expect == "error")
        if problem:
            fail(
                f"{call.call} sent a request that breaks the contract: {problem}",
                expected=f"a body that {seen.path[1:].replace('/', '-')}-request accepts",
                actual=f"{seen.method} {seen.path} {_short(seen.body)}",
            )


@check("fields-sent", "the request carries every field given to the client, unchanged", (CLIENT,))
def fields_sent(ctx: CheckContext, call: ClientCall, answer: Answer) -> bool | None:
    seen = call.last()
    if seen is None or not isinstance(seen.body, dict):
        return SKIPPED  # request-sent and request-conforms say what is wrong
    body = {"action": "generate", **seen.body} if call.call == "generate" else seen.body
    wrong = []
    for name, wanted in call.expected_body().items():
        if name not in body:
            wrong.append(f"{name} missing (given {_short(wanted, 60)})")
        elif not _same(body[name], wanted):
            wrong.append(f"{name} is {_short(body[name], 60)}, given {_short(wanted, 60)}")
    if wrong:
        fail(
            f"{call.call} did not send what it was given: {'; '.join(wrong)}",
            expected=_short(call.expected_body()),
            actual=_short(seen.body),
        )


@check(
    "one-bill-per-call",
    "one call makes at most one request that may cost a video (none to retrieve): no "
    "second POST /luma/videos after an answer that made a task, or after a lost answer",
    (CLIENT,),
)
def one_bill_per_call(ctx: CheckContext, call: ClientCall, answer: Answer) -> bool | None:
    billed = call.billed()
    if len(billed) <= call.bills_allowed:
        return None
    lost = next((s for s in billed[:-1] if s.fault is not None), None)
    if lost is not None:
        why = f"a blind retry after the {lost.fault} fault: the first request may have made a task"
    elif call.call == "retrieve":
        why = "a retrieve submits work"
    else:
        why = "another POST after an answer that made a task"
    fail(
        f"{call.call} sent {len(billed)} billable POST /luma/videos for one call ({why}): "
        f"it may pay for {len(billed)} videos",
        expected=f"at most {call.bills_allowed} billable POST /luma/videos (a retry only "
        "after an answer that says no task was made: 4xx, or 5xx other than 504)",
        actual="; ".join(f"{n}. {s.outcome()}" for n, s in enumerate(billed, 1)),
    )


@check("callback-url-sent", "a callback_url given to the client reaches the service", (CLIENT,))
def callback_url_sent(ctx: CheckContext, call: ClientCall, answer: Answer) -> bool | None:
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
            actual=f"callback_url {sent!r}" if sent is not None else _short(seen.body),
        )


@check("raises-on-error", "on an error answer the client raises, never returns it", (CLIENT,))
def raises_on_error(ctx: CheckContext, call: ClientCall, answer: Answer) -> bool | None:
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
        _fail_if_it_returned(
            call,
            f"{call.call} returned on a {what} answer as if it had succeeded",
            expected=f"an exception (the service answered {what})",
        )


@check(
    "raises-on-fault",
    "when the answer is lost or broken the client raises; on a hang, within client_timeout",
    (CLIENT,),
)
def raises_on_fault(ctx: CheckContext, call: ClientCall, answer: Answer) -> bool | None:
    if not call.in_time:
        fail(
            f"{call.call} was still waiting {call.bound:g} s into an answer that never comes",
            expected=f"an exception within {call.bound:g} s (client_timeout plus grace)",
            actual="still waiting: does the client set a read timeout?",
        )
    _fail_if_it_returned(
        call,
        f"{call.call} returned although the answer was broken ({call.fault})",
        expected=f"an exception (the {call.fault} fault left no usable answer)",
    )


def _fail_if_it_returned(call: ClientCall, title: str, *, expected: str) -> None:
    """A call that should have raised: fail, with what it returned, unless it did."""
    if call.raised is None:
        fail(title, expected=expected, actual=f"returned {_short(call.returned)}")


@check(
    "no-early-completion",
    "while a task is pending or processing the client does not report it finished",
    (CLIENT,),
)
def no_early_completion(ctx: CheckContext, call: ClientCall, answer: Answer) -> bool | None:
    record = answer.json_or_none()
    if answer.status != 200 or not isinstance(record, dict) or call.raised is not None:
        return SKIPPED
    state = state_of(call.dialect, record)
    if state not in ("pending", "processing"):
        return SKIPPED
    signs = finished_signs(call.returned)
    if signs:
        fail(
            f"{call.call} reported a {state} task as finished: {'; '.join(signs)}",
            expected=f"what the service answered: the task is {state}",
            actual=_short(_finished_part(call.returned)),
        )


def _finished_part(value: Any) -> Any:
    """The part of a returned value that says whether the task is finished."""
    if not isinstance(value, dict):
        return value
    keys = ("id", "state", "status", "success", "video_url", "response")
    return {k: value[k] for k in keys if k in value}


@check("task-id-matches", "the task id the client returns is the one the service gave", (CLIENT,))
def task_id_matches(ctx: CheckContext, call: ClientCall, answer: Answer) -> bool | None:
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


@check("answer-returned", "the client returns what the service answered (2xx)", (CLIENT,))
def answer_returned(ctx: CheckContext, call: ClientCall, answer: Answer) -> bool | None:
    if not 200 <= answer.status < 300:
        return SKIPPED
    body = answer.json_or_none()
    if not call.in_time:
        fail(
            f"{call.call} did not return within {call.bound:g} s of a {answer.status} answer",
            expected=_short(body),
            actual="still running",
        )
    if call.raised is not None:
        fail(
            f"{call.call} raised although the service answered {answer.status}",
            expected=_short(body),
            actual=f"{type(call.raised).__name__}: {call.raised}",
        )
    if not _same(call.returned, body):
        fail(
            f"{call.call} returned something else than the service answered: "
            + "; ".join(_differences(body, call.returned)),
            expected=_short(body),
            actual=_short(call.returned),
        )


def _differences(wanted: Any, got: Any, at: str = "") -> list[str]:
    """Where ``got`` differs from ``wanted``: ``response.state "processing" → "completed"``."""
    if isinstance(wanted, dict) and isinstance(got, dict):
        found = []
        for key in {**wanted, **got}:
            name = f"{at}.{key}" if at else key
            if key not in got:
                found.append(f"{name} missing")
            elif key not in wanted:
                found.append(f"{name} added")
            elif not _same(wanted[key], got[key]):
                found += _differences(wanted[key], got[key], name)
        return found
    if isinstance(wanted, dict) or isinstance(got, dict):
        kinds = f"a {type(got).__name__}, not a {type(wanted).__name__}"
        return [f"{at or 'the answer'} is {kinds}"]
    return [f"{at or 'the answer'} {_short(wanted, 40)} → {_short(got, 40)}"]


CONSUMER_CHECKS: tuple[str, ...] = (
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

__all__ = [
    "CHECKS_BY_EXPECTATION",
    "CLIENT",
    "CONSUMER_CHECKS",
    "FINISHED_WORDS",
    "SHARED_CHECKS",
    "ClientCall",
    "Seen",
    "finished_signs",
]
