"""The checks of a pay-per-call gateway's 402 contract (x402), for any dialect whose pack
is sold through one — what the provider suite asks of a server with ``verify --x402``,
without paying:

- ``x402-challenge``: a paid call with neither a token nor a payment is answered 402
  with a challenge its dialect's ``x402-challenge`` schema accepts;
- ``x402-header-equals-body``: the ``PAYMENT-REQUIRED`` header is the standard padded
  base64 of exactly that body (a client reads the header first, then the body);
- ``x402-free-polls``: reading a task is never answered 402;

and, on a paid run (``--x402-key``, ``--max-spend``), ``x402-paid-served``: a payment
signed for an offered entry is served (2xx), and a ``PAYMENT-RESPONSE`` header, when
there is one, is base64 JSON saying ``success``.

Their cases carry the operations `CHALLENGE`, `POLL` and `PAID`.
"""

from __future__ import annotations

import json

from ..contract import schema as contract
from ..contract.packs import pack
from ..payments.challenge import PAYMENT_REQUIRED, PAYMENT_RESPONSE, decode
from .context import CheckContext
from .exchanges import Answer, Case, fail
from .registry import SKIPPED, check

CHALLENGE, POLL, PAID = "x402-unpaid", "x402-poll", "x402-paid"  # the cases' operations
GATEWAY_CHECKS = (
    "x402-challenge",
    "x402-header-equals-body",
    "x402-free-polls",
    "x402-paid-served",
)


def _short(content: bytes, limit: int = 200) -> str:
    text = content.decode("utf-8", "replace")
    return text if len(text) <= limit else text[: limit - 3] + "..."


@check(
    "x402-challenge",
    "a paid call with neither a token nor a payment is 402 with a challenge the contract accepts",
    (CHALLENGE,),
)
def x402_challenge(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if answer.status != 402:
        fail(
            f"{case.method} {case.path} without a token or a payment was answered "
            f"{answer.status}, not 402",
            expected="402 with the x402 challenge",
            actual=f"{answer.status} {_short(answer.content)}",
        )
    schema = pack(case.dialect).schema("x402-challenge")
    body = answer.json_or_none()
    verdict = contract.check(schema, body)
    if not verdict.ok:
        fail(
            f"the 402's challenge breaks {schema}: " + "; ".join(map(str, verdict.problems)),
            expected=f"a body {schema} accepts",
            actual=_short(answer.content, 400),
        )
    return None


@check(
    "x402-header-equals-body",
    "the 402's PAYMENT-REQUIRED header is the standard base64 of exactly its body",
    (CHALLENGE,),
)
def x402_header_equals_body(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if answer.status != 402:
        return SKIPPED  # x402-challenge says so
    header = answer.headers.get(PAYMENT_REQUIRED.lower())
    if header is None:
        fail(
            f"the 402 has no {PAYMENT_REQUIRED} header (the provider's SDK reads it first)",
            expected=f"{PAYMENT_REQUIRED}: base64 of the body",
            actual=", ".join(sorted(answer.headers)) or "no headers",
        )
    try:
        carried = decode(header)
    except ValueError as bad:
        fail(
            f"the {PAYMENT_REQUIRED} header cannot be read: {bad}",
            expected="standard padded base64 of the body's JSON",
            actual=header[:120],
        )
    body = answer.json_or_none()
    if carried != body:
        fail(
            f"the {PAYMENT_REQUIRED} header and the 402's body say different things",
            expected=json.dumps(body)[:300],
            actual=json.dumps(carried)[:300],
        )
    return None


@check("x402-free-polls", "reading a task is never answered 402: polling is free", (POLL,))
def x402_free_polls(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if answer.status == 402 or PAYMENT_REQUIRED.lower() in answer.headers:
        fail(
            f"a poll ({case.method} {case.path}, {case.label}) asked to be paid: a paying "
            "client would pay on every poll",
            expected="an answer without payment (the record, or the dialect's error)",
            actual=f"{answer.status} {_short(answer.content)}",
        )
    return None


@check(
    "x402-paid-served",
    "a payment signed for an offered entry is served (2xx); a PAYMENT-RESPONSE says success",
    (PAID,),
)
def x402_paid_served(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if not 200 <= answer.status < 300:
        fail(
            f"a payment for an entry the gateway offered was answered {answer.status}",
            expected="2xx: the call served",
            actual=f"{answer.status} {_short(answer.content)}",
        )
    receipt = answer.headers.get(PAYMENT_RESPONSE.lower())
    if receipt is None:
        return None  # the provider sends none; the protocol makes it optional
    try:
        said = decode(receipt)
    except ValueError as bad:
        fail(f"the {PAYMENT_RESPONSE} header cannot be read: {bad}", expected="base64 JSON",
             actual=receipt[:120])  # fmt: skip
    if not isinstance(said, dict) or said.get("success") is not True:
        fail(
            f"the {PAYMENT_RESPONSE} of a served call does not say success",
            expected='{"success": true, "transaction", "network", "payer"}',
            actual=json.dumps(said)[:200],
        )
    return None
