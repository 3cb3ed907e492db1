"""The checks of a toy client: the ones every dialect shares, judged in the toy's words
(`contract_tests.consumer.dialect.ClientRules`). A create may bill when it was answered
2xx or its answer was lost."""

from __future__ import annotations

from typing import Any

from contract_tests.checks.client import as_json
from contract_tests.checks.client_calls import ClientCall, Seen
from contract_tests.checks.exchanges import Answer, fail
from contract_tests.checks.registry import SKIPPED
from contract_tests.contract import schema as contract

from . import PACK

CHECKS = (
    "request-sent", "request-conforms", "fields-sent", "one-bill-per-call",
    "raises-on-error", "raises-on-fault", "answer-returned",
)  # fmt: skip


def checks_for(call: ClientCall) -> tuple[str, ...]:
    return CHECKS


def may_bill(seen: Seen) -> bool:
    if not PACK.is_billable(seen.method, seen.path):
        return False
    return seen.lost or 200 <= (seen.status or 0) < 300


def _held(title: str, expected: Any, actual: Any) -> None:
    fail(title, expected=str(expected), actual=str(actual))


def request_conforms(call: ClientCall, answer: Answer) -> bool | None:
    if call.call != "create":
        return SKIPPED
    for seen in call.sent:
        verdict = contract.check(PACK.schema("job-request"), seen.body)
        if call.wanted(seen) and not verdict.ok:
            _held("a job request breaks the contract", PACK.schema("job-request"), verdict.message)
    return None


def fields_sent(call: ClientCall, answer: Answer) -> bool | None:
    seen = call.last()
    if seen is None or call.call != "create":
        return SKIPPED
    body = seen.body if isinstance(seen.body, dict) else {}
    changed = {k: body.get(k) for k, v in call.fields.items() if v is not None and body.get(k) != v}
    if changed:
        _held("fields changed on the way", {k: call.fields[k] for k in changed}, changed)
    return None


def raises_on_error(call: ClientCall, answer: Answer) -> bool | None:
    if call.expect != "error":
        return SKIPPED
    if call.raised is None:
        _held(f"{call.call} returned on an error", "an exception", as_json(call.returned))
    return None


def answer_returned(call: ClientCall, answer: Answer) -> bool | None:
    last = call.last()
    if call.expect != "answer" or last is None or last.status is None or last.status >= 400:
        return SKIPPED
    if call.raised is not None or not call.in_time:
        _held(f"{call.call} did not return on a {last.status}", "the job", repr(call.raised))
    returned = as_json(call.returned)
    got = returned.get("id") if isinstance(returned, dict) else None
    if got != last.answer.get("id"):
        _held(f"{call.call} returned another job", last.answer.get("id"), got)
    return None
