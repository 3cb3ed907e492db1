"""The checks of a client that every dialect shares, and the helpers its dialects' own
client checks use.

Each check gets a `ClientCall` (`client_calls`: what the adapter was given, the requests
the client really sent as the fake's journal or the validating proxy saw them, what it
returned or raised) and the service's `Answer` to the client's last request. They sit
in the shared `REGISTRY` under the operation ``client``. Some hold the same way for every
dialect (``request-sent``, ``one-bill-per-call``, ``raises-on-fault``); some are one idea
said in each dialect's words (``request-conforms``, ``fields-sent``, ``raises-on-error``,
``answer-returned``), and ask the dialect's ``client`` module
(``contract_tests/<dialect>/client.py``) for its judgement. That module registers the
dialect's other client checks and says which request may bill (``may_bill(seen)``).
The consumer suite (`contract_tests.consumer`) makes the calls and picks the checks.
"""

from __future__ import annotations

import json
from typing import Any

from ..contract.packs import pack
from .client_calls import CLIENT, BillingRisk, ClientCall, Seen
from .context import CheckContext
from .exchanges import Answer, Case, fail
from .registry import SKIPPED, check

EVERY = None  # the checks below apply to every dialect, one registered later too


def as_call(case: Case) -> ClientCall:
    assert isinstance(case, ClientCall), f"a client check got {type(case).__name__}"
    return case


def same(a: Any, b: Any) -> bool:
    """JSON equality: 300 == 300.0, but True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def short(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_json(value: Any) -> Any:
    """What an adapter returned, as JSON: a dict, or a model with ``model_dump``."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value


def differences(wanted: Any, got: Any, at: str = "") -> list[str]:
    """Where ``got`` differs from ``wanted``: ``response.state "processing" → "completed"``."""
    if isinstance(wanted, dict) and isinstance(got, dict):
        found = []
        for key in {**wanted, **got}:
            name = f"{at}.{key}" if at else key
            if key not in got:
                found.append(f"{name} missing")
            elif key not in wanted:
                found.append(f"{name} added")
            elif not same(wanted[key], got[key]):
                found += differences(wanted[key], got[key], name)
        return found
    if isinstance(wanted, dict) or isinstance(got, dict):
        kinds = f"a {type(got).__name__}, not a {type(wanted).__name__}"
        return [f"{at or 'the answer'} is {kinds}"]
    return [f"{at or 'the answer'} {short(wanted, 40)} → {short(got, 40)}"]


def fail_if_it_returned(call: ClientCall, title: str, *, expected: str) -> None:
    """A call that should have raised: fail, with what it returned, unless it did."""
    if call.raised is None:
        fail(title, expected=expected, actual=f"returned {short(as_json(call.returned))}")


# -- the checks every dialect shares ------------------------------------------------------


@check("request-sent", "the client sends its call to the documented endpoint", (CLIENT,), EVERY)
def request_sent(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    call = as_call(case)
    if call.last() is None:
        others = ", ".join(f"{s.method} {s.path}" for s in call.sent) or "nothing"
        fail(
            f"{call.call} never sent {call.method} {call.path}",
            expected=f"{call.method} {call.path}",
            actual=f"the client sent {others}",
        )


# -- the same idea in each dialect's words: the dialect's client module says how -------------


def _judged_by_the_dialect(case: Case, answer: Answer, name: str) -> bool | None:
    """The dialect's own judgement (a function ``name`` of its client module, given the
    call and the answer); a dialect without one has nothing to say: SKIPPED."""
    call = as_call(case)
    judge = getattr(pack(call.dialect).load("client"), name, None)
    if judge is None:
        return SKIPPED
    result: bool | None = judge(call, answer)
    return result


@check(
    "request-conforms",
    "every request the client sends is one the contract accepts (unknown fields: warnings)",
    (CLIENT,),
    EVERY,
)
def request_conforms(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    return _judged_by_the_dialect(case, answer, "request_conforms")


@check(
    "fields-sent",
    "every field and argument given to the client reaches the service unchanged",
    (CLIENT,),
    EVERY,
)
def fields_sent(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    return _judged_by_the_dialect(case, answer, "fields_sent")


@check(
    "raises-on-error", "on an error answer the client raises, never returns it", (CLIENT,), EVERY
)
def raises_on_error(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    return _judged_by_the_dialect(case, answer, "raises_on_error")


@check(
    "answer-returned", "on success the client returns what the service answered", (CLIENT,), EVERY
)
def answer_returned(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    return _judged_by_the_dialect(case, answer, "answer_returned")


@check(
    "one-bill-per-call",
    "one call makes at most one request that may start a paid generation (none to read "
    "one): no second one after an answer that made it; after a lost answer, a retry is a "
    "billing risk",
    (CLIENT,),
    EVERY,
)
def one_bill_per_call(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    call = as_call(case)
    billed = call.billed()
    if len(billed) <= call.bills_allowed:
        return None
    n, endpoint = len(billed), f"{call.method} {call.path}"
    blind = call.bills_allowed > 0 and all(s.lost for s in billed[:-1])
    if blind:
        why = f"a blind retry after the {billed[0].fault or 'lost'} fault: the first request "
        why += "may already have started a paid generation"
    elif call.bills_allowed == 0:
        why = f"a {call.call} submits work"
    else:
        why = "another request after an answer that made a task"
    title = f"{call.call} sent {n} billable {endpoint} for one call ({why}): it may pay {n} times"
    expected = (
        f"at most {call.bills_allowed} billable {endpoint} (a retry only after an answer "
        "that says nothing was made)"
    )
    actual = "; ".join(f"{i}. {s.outcome()}" for i, s in enumerate(billed, 1))
    if blind:
        raise BillingRisk(title, expected=expected, actual=actual)
    fail(title, expected=expected, actual=actual)


@check(
    "raises-on-fault",
    "when the answer is lost or broken the client raises; on a hang, within client_timeout",
    (CLIENT,),
    EVERY,
)
def raises_on_fault(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    call = as_call(case)
    if call.expect != "fault":
        return SKIPPED
    if not call.in_time:
        fail(
            f"{call.call} was still waiting {call.bound:g} s into an answer that never comes",
            expected=f"an exception within {call.bound:g} s (client_timeout plus grace)",
            actual="still waiting: does the client set a read timeout?",
        )
    fail_if_it_returned(
        call,
        f"{call.call} returned although the answer was broken ({call.fault})",
        expected=f"an exception (the {call.fault} fault left no usable answer)",
    )


__all__ = [
    "CLIENT",
    "EVERY",
    "BillingRisk",
    "ClientCall",
    "Seen",
    "as_call",
    "as_json",
    "differences",
    "fail_if_it_returned",
    "same",
    "short",
]
