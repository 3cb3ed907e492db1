"""The ledger of pay-per-call payments (``serve --x402``): which payment nonces are held or
spent, what each payer may still spend, the log of every payment and the refusals a
test has scripted. Protocol-neutral: amounts are whole atomic units of the asset (USDC
has 6 decimals), a nonce is whatever string a protocol makes unique per payer; which
envelope is valid is the gateway's business (`mock_server.x402`), never the ledger's.

A payment goes in two steps, so that only a call that succeeds costs anything:
`Ledger.claim` (atomically: the nonce is unused, the balance covers the amount; the
nonce is then *held* and the amount taken), then `Ledger.settle` (the call succeeded:
the nonce is spent for good) or `Ledger.release` (it did not: nonce and amount are
given back). Two claims of one nonce at once — one envelope sent to two processes on a
shared store — see exactly one winner (`shared.payments` does each step in one script).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

USDC_DECIMALS = 6
PAYMENTS_KEPT = 1_000  # the log's length: the newest payments
# The most atomic units an amount may be (about 9 billion USDC): a shared ledger counts
# in Redis's Lua, whose numbers are doubles, exact up to 2**53 only (past it a balance
# rounds, and past 2**63 it turns negative).
MAX_UNITS = 2**53 - 1

# Why a claim was refused (`LedgerRefusal.kind`): the gateway names each in its protocol.
NONCE_HELD = "nonce_held"  # a call paid with it is under way
NONCE_SPENT = "nonce_spent"  # a call paid with it has succeeded
INSUFFICIENT = "insufficient_funds"


def usdc_units(text: Any, name: str = "amount") -> int:
    """A USDC amount given as a decimal (``"0.50"``, ``2``) in atomic units (``500000``);
    ValueError naming ``name`` if it is no amount >= 0 with at most 6 decimals (and at
    most `MAX_UNITS`)."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise ValueError(f"{name} is a USDC amount such as 0.50, not {text!r}") from None
    if isinstance(text, bool) or not value.is_finite() or value < 0:
        raise ValueError(f"{name} is a USDC amount >= 0, not {text!r}")
    units = value.scaleb(USDC_DECIMALS)
    if units != units.to_integral_value():
        raise ValueError(f"{name} has at most {USDC_DECIMALS} decimals (USDC's): {text!r}")
    if units > MAX_UNITS:
        most = usdc_text(MAX_UNITS)
        raise ValueError(f"{name} is a USDC amount of at most {most}, not {text!r}")
    return int(units)


def usdc_text(units: int | None) -> str | None:
    """Atomic units as a USDC decimal (``500000`` -> ``"0.5"``); None stays None."""
    if units is None:
        return None
    return format(Decimal(units).scaleb(-USDC_DECIMALS).normalize(), "f")


@dataclass(frozen=True)
class Claim:
    """One payment, as the ledger knows it: who pays what, on which network and asset,
    under which nonce."""

    payer: str
    network: str
    asset: str
    nonce: str
    amount: int

    @property
    def key(self) -> str:
        """A nonce is unique per (network, asset, payer)."""
        return f"{self.network}|{self.asset}|{self.payer}|{self.nonce}"


class LedgerRefusal(Exception):
    """A claim the ledger refuses (``kind``: `NONCE_HELD`, `NONCE_SPENT`, `INSUFFICIENT`)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def payment_record(
    claim: Claim | None,
    outcome: str,
    at: float,
    *,
    task_id: str | None = None,
    transaction: str | None = None,
    payer: str | None = None,
    network: str | None = None,
) -> dict[str, Any]:
    """A payment as the log, the journal and the control API show it; ``outcome`` is
    ``settled``, ``released`` or ``refused:<reason>`` (a refusal may have no claim)."""
    shown: dict[str, Any] = {"payer": payer, "network": network, "asset": None}
    shown.update({"amount": None, "nonce": None})
    if claim is not None:
        shown.update(asdict(claim))
        shown["amount"] = usdc_text(claim.amount)
    shown.update({"outcome": outcome, "task_id": task_id, "at": at})
    if transaction is not None:
        shown["transaction"] = transaction
    return shown


class Ledger(Protocol):
    """Nonces, balances, the payments' log and scripted refusals (see the module)."""

    def claim(self, claim: Claim) -> None:
        """Hold the nonce and the amount, or raise `LedgerRefusal`."""
        ...

    def settle(self, claim: Claim) -> None:
        """The call paid for succeeded: the nonce is spent for good."""
        ...

    def release(self, claim: Claim) -> None:
        """The call paid for failed: the nonce is free again and the amount given back."""
        ...

    def set_balance(self, payer: str, units: int | None) -> None:
        """What ``payer`` may still spend (None: unlimited)."""
        ...

    def balance(self, payer: str) -> int | None: ...

    def balances(self) -> dict[str, int | None]:
        """The payers whose balance was set or has moved."""
        ...

    def log(self, payment: dict[str, Any]) -> None:
        """Keep one payment (`payment_record`) in the log."""
        ...

    def payments(self) -> list[dict[str, Any]]:
        """The log, oldest first."""
        ...

    def script_refusals(self, reason: str, count: int) -> None:
        """Refuse the next ``count`` payments with ``reason`` (0: none)."""
        ...

    def scripted_refusal(self) -> str | None:
        """The reason the next payment is refused for, counting it; None if none is."""
        ...

    def clear(self) -> None:
        """Back to the start (the fake's reset)."""
        ...


class MemoryLedger:
    """The ledger of one process (`Ledger`). ``starting`` is each new payer's balance in
    atomic units (None: unlimited)."""

    def __init__(self, starting: int | None) -> None:
        self.starting = starting
        self._nonces: dict[str, str] = {}  # claim key -> NONCE_HELD or NONCE_SPENT
        self._balances: dict[str, int | None] = {}
        self._log: deque[dict[str, Any]] = deque(maxlen=PAYMENTS_KEPT)
        self._scripted: tuple[str, int] = ("", 0)
        self._lock = threading.Lock()

    def claim(self, claim: Claim) -> None:
        with self._lock:
            state = self._nonces.get(claim.key)
            if state is not None:
                raise LedgerRefusal(state)
            balance = self._balances.get(claim.payer, self.starting)
            if balance is not None:
                if balance < claim.amount:
                    raise LedgerRefusal(INSUFFICIENT)
                self._balances[claim.payer] = balance - claim.amount
            self._nonces[claim.key] = NONCE_HELD

    def settle(self, claim: Claim) -> None:
        with self._lock:
            self._nonces[claim.key] = NONCE_SPENT

    def release(self, claim: Claim) -> None:
        with self._lock:
            if self._nonces.get(claim.key) != NONCE_HELD:
                return  # reset away (or never held): nothing to give back
            del self._nonces[claim.key]
            balance = self._balances.get(claim.payer, self.starting)
            if balance is not None:
                self._balances[claim.payer] = balance + claim.amount

    def set_balance(self, payer: str, units: int | None) -> None:
        with self._lock:
            self._balances[payer] = units

    def balance(self, payer: str) -> int | None:
        with self._lock:
            return self._balances.get(payer, self.starting)

    def balances(self) -> dict[str, int | None]:
        with self._lock:
            return dict(self._balances)

    def log(self, payment: dict[str, Any]) -> None:
        with self._lock:
            self._log.append(payment)

    def payments(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._log)

    def script_refusals(self, reason: str, count: int) -> None:
        with self._lock:
            self._scripted = (reason, count)

    def scripted_refusal(self) -> str | None:
        with self._lock:
            reason, count = self._scripted
            if count <= 0:
                return None
            self._scripted = (reason, count - 1)
            return reason

    def clear(self) -> None:
        with self._lock:
            self._nonces.clear()
            self._balances.clear()
            self._log.clear()
            self._scripted = ("", 0)
