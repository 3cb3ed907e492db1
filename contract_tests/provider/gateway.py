"""x402 in the provider suite (``verify --x402``): a gateway's 402 contract, checked
without paying — a paid call with neither a token nor a payment is 402 with the
challenge, its ``PAYMENT-REQUIRED`` header equal to its body, and polls are never 402
(`contract_tests.checks.gateway`) — and, opt-in like every test that costs money, a paid
run: with an explicit key and a cap (``--x402-key``, ``--max-spend``) it pays for a few
calls, never signing past the cap (it counts what it signed, whatever the gateway did
with it), and reads each task back free.

A dialect sold through a gateway (its pack's ``x402``) calls `gateway_plans` from its
``cheap_plans`` with its cases: the paid call without a token, and polls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from ..checks import Case
from ..checks.gateway import PAID
from ..payments import Payer, challenge_of, usdc
from .plans import Plan
from .runner import Provider

PAID_CALLS = 3  # at most this many payments in a paid run, whatever the cap allows


@dataclass
class Gateway:
    """What ``verify --x402`` was given: ``key`` (0x-hex EVM key) and ``max_spend``
    (atomic USDC units) for a paid run, on ``network``; without both, nothing is paid."""

    key: str | None = None
    max_spend: int | None = None
    network: str = "base"
    payer: Payer | None = field(default=None, init=False)
    stopped: str = ""  # why the paid run stopped early

    @property
    def pays(self) -> bool:
        return bool(self.key) and self.max_spend is not None

    def signer(self) -> Payer:
        if self.payer is None:
            assert self.key is not None
            self.payer = Payer.from_key(self.key, self.network)
        return self.payer

    def note(self) -> str:
        """What the run signed, for the report's notes."""
        if not self.pays:
            return (
                "x402: the 402 contract checked without paying "
                "(a paid run needs --x402-key and --max-spend)"
            )
        payer, cap = self.signer(), usdc(self.max_spend or 0)
        said = (
            f"x402: {len(payer.signed)} payment(s) signed by {payer.address}, "
            f"{usdc(payer.spent())} of --max-spend {cap} USDC"
        )
        return said + (f" ({self.stopped})" if self.stopped else "")


def gateway_plans(
    provider: Provider,
    unpaid: Callable[[], Case],
    polls: list[Callable[[str | None], Case]],
    task_of: Callable[[Any], str | None],
) -> list[Plan]:
    """The 402 contract's plan, and the paid run's when it may pay. ``unpaid()``: the
    paid call with neither a token nor a payment; ``polls``: cases reading a task (given
    its id, or None for an unknown one), without a token; ``task_of``: the task id in a
    served answer's body."""
    gateway: Gateway = provider.x402

    def contract(kind: int) -> None:
        if kind == 0:
            provider.exchange(unpaid())
        else:
            provider.exchange(polls[(kind - 1) % len(polls)](None))

    plans = [Plan("x402", "x402 challenge", st.integers(0, len(polls)), contract, 1 + len(polls))]
    if gateway.pays:
        plans.append(Plan("x402", "x402 paid", st.integers(0, 10**6),
                          lambda _: pay_once(provider, unpaid, polls, task_of), PAID_CALLS,
                          billable=True))  # fmt: skip
    return plans


def pay_once(
    provider: Provider,
    unpaid: Callable[[], Case],
    polls: list[Callable[[str | None], Case]],
    task_of: Callable[[Any], str | None],
) -> None:
    """One paid call: its 402, a payment for the payer's entry if the cap allows it,
    the paid retry, then the task read back free."""
    gateway: Gateway = provider.x402
    if gateway.stopped:
        return
    asked = unpaid()
    answer = provider.exchange(asked)
    if answer.status != 402:
        return  # x402-challenge failed on it
    payer = gateway.signer()
    try:
        entry = payer.choose(challenge_of(answer.headers, answer.content).get("accepts") or [])
    except ValueError as nothing:
        gateway.stopped = f"nothing to pay on {payer.network_id}: {nothing}"
        return
    price = int(entry.get("amount") or entry.get("maxAmountRequired") or 0)
    if payer.spent() + price > (gateway.max_spend or 0):
        gateway.stopped = f"the next payment ({usdc(price)} USDC) would pass --max-spend"
        return
    envelope = payer.headers({"accepts": [entry]})
    paid = unpaid()
    paid.operation, paid.label = PAID, "x402-paid"
    paid.headers = {**paid.headers, **envelope}
    served = provider.exchange(paid)
    task_id = task_of(served.json_or_none()) if 200 <= served.status < 300 else None
    if task_id is not None:
        for poll in polls:
            provider.exchange(poll(task_id))
