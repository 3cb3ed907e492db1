"""`Gateway`: the fake as AceDataCloud's x402 gateway. Which calls are paid (the billable
calls of a pack that declares ``x402``), what they cost (``x402_price``, or per action
``x402_prices``), the challenge (`offers`), and a payment's way: decode (`envelope`), find
the offer it accepted, verify it by its network (EVM: `verify.verify_evm`; Solana:
`solana.verify_solana`), then claim it on the ledger (`mock_server.engine.payments`) —
and, once the call is answered, settle it (2xx) or release it (anything else: a call that
fails costs nothing). Every payment, refusals included, goes into the ledger's log.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from contract_tests.contract.packs import UnknownDialect, pack

from ..engine.fake import Fake
from ..engine.payments import (
    INSUFFICIENT,
    NONCE_HELD,
    NONCE_SPENT,
    Claim,
    LedgerRefusal,
    payment_record,
    usdc_text,
    usdc_units,
)
from ..engine.service import Engine
from . import offers
from .envelope import decode
from .verify import Authorized, Refused, verify_evm

# How a network family is verified: `verify_solana` is looked up when first needed (the
# Solana half may be absent from a build: its payments are then refused, never a 500).
Verifier = Callable[[Mapping[str, Any], Mapping[str, Any], float], Authorized]


def _solana() -> Verifier:
    try:
        from .solana import verify_solana  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise Refused("invalid_network", "this fake does not verify Solana payments") from None
    return verify_solana  # type: ignore[no-any-return, unused-ignore]


@dataclass(frozen=True)
class Payment:
    """A payment verified and claimed, for one call under way."""

    authorized: Authorized
    claim: Claim


class Gateway:
    """The pay-per-call gateway of ``fake`` (made when the fake is served ``--x402``)."""

    def __init__(self, fake: Fake) -> None:
        settings = fake.settings
        self.ledger, self.clock = fake.ledger, fake.clock
        self.price = usdc_units(settings.x402_price, "x402_price")
        self.prices = {
            action: usdc_units(price, f"x402_prices.{action}")
            for action, price in settings.x402_prices.items()
        }
        self.pay_to, self.pay_to_solana = settings.x402_pay_to, settings.x402_pay_to_solana
        # Where the offers say the gateway is: the public URL if one is set (processes
        # behind one address offer the same resource), else the URL the client called.
        self.public_url = (settings.public_url or "").rstrip("/") or None

    @staticmethod
    def payer(address: str) -> str:
        """A payer as the ledger keys it: an EVM address in its EIP-55 spelling (however
        it is written), any other (a Solana key) as it is."""
        if re.fullmatch(r"0x[0-9a-fA-F]{40}", address):
            return str(to_checksum_address(address))
        return address

    # -- which calls, at what price ---------------------------------------------------

    @staticmethod
    def paid_methods(dialect: str, path: str, methods: Iterable[str]) -> frozenset[str] | None:
        """The methods of ``path`` that are paid; None if the dialect's pack is not sold
        per call (then none of its paths passes the gateway: not even free ones)."""
        try:
            sold = pack(dialect)
        except UnknownDialect:  # a dialect added from Python, outside the registry
            return None
        if not sold.x402:
            return None
        return frozenset(m for m in methods if sold.is_billable(m, path))

    def price_of(self, engine: Engine, endpoint: str, body: Any) -> int:
        """Atomic units of USDC a call costs: its action's price if one is configured
        (the action as the dialect reads it from a valid body), else the default."""
        if not self.prices:
            return self.price
        verdict, fields = engine.dialect.check_request(endpoint, body)
        if not verdict.ok:
            return self.price
        action = engine.dialect.describe(endpoint, fields)[0]
        return self.prices.get(action or "", self.price)

    def offers(self, price: int, base_url: str, path: str) -> list[dict[str, Any]]:
        base_url = self.public_url or base_url
        resource = base_url + path
        return offers.offers(
            price, resource, base_url, self.pay_to, self.pay_to_solana, _description(path)
        )

    def challenge(
        self, accepts: list[dict[str, Any]], refused: Refused | None = None
    ) -> dict[str, Any]:
        """The 402 body: a fresh challenge, naming the refusal's reason if there was one."""
        first = accepts[0]
        if refused is None:
            return offers.challenge(accepts, first["resource"], first["description"])
        return offers.challenge(
            accepts, first["resource"], first["description"], refused.reason, refused.message
        )

    # -- a payment ----------------------------------------------------------------------

    def authorize(self, header: str, accepts: list[dict[str, Any]], now: float) -> Payment:
        """The payment in a ``PAYMENT-SIGNATURE`` header, verified against the offers made
        for this call and claimed on the ledger; `Refused` otherwise (nothing held)."""
        envelope = decode(header)
        accepted = envelope["accepted"]
        offered = next((entry for entry in accepts if entry == accepted), None)
        if offered is None:
            raise _not_offered(accepted, accepts)
        network = str(offered["network"])
        try:
            if network.startswith("eip155:"):
                authorized = verify_evm(envelope, offered, now)
            elif network.startswith("solana:"):
                authorized = _solana()(envelope, offered, now)
            else:  # pragma: no cover - only networks of `offers.CHAINS` are offered
                raise Refused("invalid_network", f"no verifier for {network}")
        except Refused as refused:
            # Past the offer, the network is known: the log names it for every refusal
            # (a verifier's shape checks raise before they know it).
            refused.network = refused.network or network
            raise
        scripted = self.ledger.scripted_refusal()
        if scripted is not None:
            raise Refused(
                scripted,
                "refused as scripted (POST /__admin/x402/refusals)",
                payer=authorized.payer,
                network=network,
            )
        paid = authorized
        claim = Claim(paid.payer, paid.network, paid.asset, paid.nonce, paid.amount)
        try:
            self.ledger.claim(claim)
        except LedgerRefusal as refusal:
            raise _ledger_refusal(refusal.kind, claim) from None
        return Payment(authorized, claim)

    def settle(self, payment: Payment, task_id: str | None, now: float) -> dict[str, Any]:
        """The call succeeded: spend the nonce; the payment as logged, with its receipt's
        fake transaction id (`receipt`)."""
        self.ledger.settle(payment.claim)
        record = payment_record(
            payment.claim, "settled", now, task_id=task_id, transaction=transaction_of(payment)
        )
        self.ledger.log(record)
        return record

    def release(self, payment: Payment, task_id: str | None, now: float) -> dict[str, Any]:
        """The call failed: nonce and amount are given back."""
        self.ledger.release(payment.claim)
        record = payment_record(payment.claim, "released", now, task_id=task_id)
        self.ledger.log(record)
        return record

    def refused(self, refusal: Refused, now: float) -> dict[str, Any]:
        record = payment_record(
            None,
            f"refused:{refusal.reason}",
            now,
            payer=refusal.payer,
            network=refusal.network,
        )
        self.ledger.log(record)
        return record


def receipt(payment: Payment) -> dict[str, Any]:
    """The ``PAYMENT-RESPONSE`` of a settled payment (the SDK ignores it; the protocol
    defines it)."""
    return {
        "success": True,
        "transaction": transaction_of(payment),
        "network": payment.claim.network,
        "payer": payment.claim.payer,
    }


def transaction_of(payment: Payment) -> str:
    """A fake transaction id: on Solana the payer's transaction signature (the nonce),
    on EVM a hash of what the transfer would be — stable for one payment."""
    claim = payment.claim
    if claim.network.startswith("solana:"):
        return claim.nonce
    return "0x" + hashlib.sha256(claim.key.encode()).hexdigest()


def _description(path: str) -> str:
    return f"luma-mock: {path}, paid per call"


def _not_offered(accepted: Mapping[str, Any], accepts: list[dict[str, Any]]) -> Refused:
    """Why an ``accepted`` that is no offer of this call is refused: its network, its
    scheme, or the rest of it (an amount, an address, a field changed)."""
    network, scheme = accepted.get("network"), accepted.get("scheme")
    if all(entry["network"] != network for entry in accepts):
        known = ", ".join(entry["network"] for entry in accepts)
        return Refused("invalid_network", f"network {network!r} is not offered (offered: {known})")
    if all(entry["scheme"] != scheme for entry in accepts if entry["network"] == network):
        return Refused("invalid_scheme", f"scheme {scheme!r} is not offered on {network}")
    return Refused(
        "invalid_payment_requirements",
        "accepted is not one of the offers made for this call (changed, or another price)",
        network=str(network),
    )


def _ledger_refusal(kind: str, claim: Claim) -> Refused:
    evm = claim.network.startswith("eip155:")
    if kind == INSUFFICIENT:
        held = usdc_text(claim.amount)
        reason, message = INSUFFICIENT, f"{claim.payer} cannot pay {held} USDC"
    elif kind == NONCE_HELD and evm:
        reason = "invalid_exact_evm_nonce_already_used"
        message = f"nonce {claim.nonce} pays for a call under way"
    elif kind in (NONCE_HELD, NONCE_SPENT):
        reason, message = "duplicate_settlement", f"nonce {claim.nonce} was already used"
    else:  # pragma: no cover - the ledger's kinds are the three above
        reason, message = "unexpected_verify_error", kind
    return Refused(reason, message, payer=claim.payer, network=claim.network)
