"""The checks of a client that pays per call (x402), for every dialect whose pack is
sold through a gateway: run on a `ClientCall` made with a payer and no token
(``ClientCall.x402``), from the requests the gateway's journal saw — each one's
``PAYMENT-SIGNATURE`` envelope and the challenge (the 402's body) that came before it.

- ``pays-once-per-call``: a paid call pays exactly once when asked; a poll never pays;
- ``pays-what-was-asked``: every payment answers a 402 of the same call and signs one
  of the entries offered, verbatim: its amount, to its payTo, on its network;
- ``fresh-nonce``: no nonce is sent twice in a run (a replay the gateway must refuse);
- ``payment-refusal-raised``: a refused payment reaches the caller as an error, and is
  neither retried nor paid again.

They register under the operation ``client`` when the dialect's client module imports
this one; `X402_CHECKS` is their order in a report.
"""

from __future__ import annotations

from typing import Any

from ..contract.packs import pack
from .client import CLIENT, EVERY, as_call, fail_if_it_returned, short
from .client_calls import ClientCall, Seen
from .context import CheckContext
from .exchanges import Answer, Case, fail
from .registry import SKIPPED, check

X402_CHECKS = ("pays-once-per-call", "pays-what-was-asked", "fresh-nonce", "payment-refusal-raised")


def _is_poll(call: ClientCall) -> bool:
    """A call to none of the pack's paid endpoints (reading a task)."""
    return not pack(call.dialect).is_billable(call.method, call.path)


def nonce_of(seen: Seen) -> str | None:
    """The payment's nonce: the gateway's record of it, else the EVM authorization's."""
    if isinstance(seen.payment, dict) and seen.payment.get("nonce"):
        return str(seen.payment["nonce"])
    envelope = seen.envelope() or {}
    payload = envelope.get("payload")
    authorization = payload.get("authorization") if isinstance(payload, dict) else None
    if isinstance(authorization, dict) and authorization.get("nonce"):
        return str(authorization["nonce"])
    return None


def _payments(call: ClientCall) -> list[Seen]:
    return [s for s in call.sent if s.paid]


def _lines(sent: list[Seen]) -> str:
    return "; ".join(f"{i}. {s.method} {s.path} -> {s.outcome()}" for i, s in enumerate(sent, 1))


@check(
    "pays-once-per-call",
    "a paying client pays once for a paid call (when a 402 asks) and never for a poll",
    (CLIENT,),
    EVERY,
)
def pays_once_per_call(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    call = as_call(case)
    if not call.x402:
        return SKIPPED
    paid = _payments(call)
    if _is_poll(call):
        if paid:
            fail(
                f"{call.call} paid for a poll: {len(paid)} PAYMENT-SIGNATURE on "
                f"{call.method} {call.path}, which the gateway serves free",
                expected="no payment on a poll",
                actual=_lines(paid),
            )
        return None
    if call.refusal is not None:
        return SKIPPED  # payment-refusal-raised says what a refused call may do
    if len(paid) > 1:
        fail(
            f"{call.call} paid {len(paid)} times for one call: it may be charged {len(paid)} times",
            expected="one PAYMENT-SIGNATURE, on the retry that answers the 402",
            actual=_lines(paid),
        )
    asked = any(s.status == 402 and not s.paid for s in call.sent)
    if asked and not paid and call.expect != "error":
        fail(
            f"{call.call} never paid: the gateway's 402 reached the caller",
            expected="one retry with a PAYMENT-SIGNATURE signed by the payer it was given",
            actual=_lines(call.sent) or "nothing sent",
        )
    return None


def _offered(seen: Seen) -> list[dict[str, Any]] | None:
    """The entries a 402 offered (None: not a challenge)."""
    if seen.status != 402 or not isinstance(seen.answer, dict):
        return None
    accepts = seen.answer.get("accepts")
    return [e for e in accepts if isinstance(e, dict)] if isinstance(accepts, list) else None


def payment_problem(envelope: dict[str, Any] | None, offered: list[dict[str, Any]]) -> str | None:
    """What is wrong with a payment for what a challenge offered, if anything."""
    if envelope is None:
        return "its PAYMENT-SIGNATURE is not base64 of a JSON object"
    accepted = envelope.get("accepted")
    if accepted not in offered:
        wanted = ", ".join(f"{e.get('network')} {e.get('amount')}" for e in offered)
        got = (
            accepted
            if not isinstance(accepted, dict)
            else (f"{accepted.get('network')} {accepted.get('amount')} to {accepted.get('payTo')}")
        )
        return f"it signed for an entry the gateway did not offer: {got} (offered: {wanted})"
    payload = envelope.get("payload")
    authorization = payload.get("authorization") if isinstance(payload, dict) else None
    if not str(accepted.get("network", "")).startswith("eip155:"):
        return None  # a Solana transfer is the gateway's to read
    if not isinstance(authorization, dict):
        return "its EVM payload has no authorization"
    if str(authorization.get("to", "")).lower() != str(accepted.get("payTo", "")).lower():
        return f"it pays {authorization.get('to')}, not the entry's payTo {accepted.get('payTo')}"
    if str(authorization.get("value")) != str(accepted.get("amount")):
        return (
            f"it signed a value of {authorization.get('value')}, the entry asks "
            f"{accepted.get('amount')}"
        )
    return None


@check(
    "pays-what-was-asked",
    "a paying client signs only an entry the gateway offered, after its 402: that "
    "amount, to that payTo, on that network",
    (CLIENT,),
    EVERY,
)
def pays_what_was_asked(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    call = as_call(case)
    if not call.x402 or _is_poll(call):
        return SKIPPED  # a payment on a poll is pays-once-per-call's
    offered: list[dict[str, Any]] | None = None
    looked = False
    for seen in call.sent:
        if seen.paid:
            looked = True
            if offered is None:
                found: str | None = "it paid before any 402 of this call asked it to"
            else:
                found = payment_problem(seen.envelope(), offered)
            if found:
                fail(
                    f"{call.call} signed what it was not asked: {found}",
                    expected="the envelope's accepted = an entry of the 402 it answers",
                    actual=short(seen.envelope() or seen.headers.get("payment-signature"), 300),
                )
        offered = _offered(seen) or offered
    return None if looked else SKIPPED


@check("fresh-nonce", "a paying client never sends the same nonce twice", (CLIENT,), EVERY)
def fresh_nonce(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    call = as_call(case)
    paid = _payments(call)
    if not call.x402 or not paid:
        return SKIPPED
    again = []
    for seen in paid:
        nonce = nonce_of(seen)
        if nonce is None:
            continue
        if nonce in ctx.nonces:
            again.append(f"{nonce[:20]}… (first sent by {ctx.nonces[nonce]})")
        else:
            ctx.nonces[nonce] = f"{call.call} in {call.label!r}"
    if again:
        fail(
            f"{call.call} sent a nonce it had sent before: the gateway refuses a replay, "
            "and a chain would settle only one",
            expected="a fresh random nonce for every payment",
            actual="; ".join(again),
        )
    return None


@check(
    "payment-refusal-raised",
    "a refused payment reaches the caller as an error: not retried, not paid again",
    (CLIENT,),
    EVERY,
)
def payment_refusal_raised(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    call = as_call(case)
    if not call.x402 or call.refusal is None:
        return SKIPPED
    wanted = [s for s in call.sent if call.wanted(s)]
    refused = next((i for i, s in enumerate(wanted) if s.paid and s.status == 402), None)
    if refused is None:
        return SKIPPED  # it never paid: pays-once-per-call's business
    after = wanted[refused + 1 :]
    if after:
        again = sum(1 for s in after if s.paid)
        fail(
            f"{call.call} retried after its payment was refused ({call.refusal}): "
            f"{len(after)} more request(s), {again} of them paid again",
            expected=f"the refusal ({call.refusal}) raised to the caller, nothing resent",
            actual=_lines(wanted),
        )
    if not call.in_time:
        fail(
            f"{call.call} neither raised nor returned within {call.bound:g} s of a refused payment",
            expected="an exception",
            actual="still running",
        )
    fail_if_it_returned(
        call,
        f"{call.call} returned although its payment was refused ({call.refusal})",
        expected=f"an exception naming the refusal ({call.refusal})",
    )
    return None
