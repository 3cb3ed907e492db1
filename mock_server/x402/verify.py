"""What a verified payment is (`Authorized`), what a refused one is (`Refused`, with the
protocol's reason code), and the verification of an ``exact`` EVM payment (EIP-3009
``TransferWithAuthorization``, signed as EIP-712 typed data), offline: eth-account
recovers the signer as the token contract would.

The checks, cheapest first (a refusal names the first that fails): the payload's shape,
``to`` is the offer's ``payTo``, ``value`` is its ``amount``, the validity window holds on
the fake's clock (``validBefore`` with `VALID_BEFORE_MARGIN` to spare, as the protocol's
facilitator wants), then the signature recovers to ``from``. Whether the offer was made,
the nonce is unused and the balance enough is the gateway's (`gateway`) and the ledger's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import to_checksum_address  # eth-account's own: one spelling per payer

from contract_tests.contract.x402 import transfer_authorization

# Seconds of validity an authorization must still have (the protocol's facilitator asks
# for a few: the transfer must land before it lapses).
VALID_BEFORE_MARGIN = 6
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_NONCE = re.compile(r"0x[0-9a-fA-F]{64}")
_AUTHORIZATION = ("from", "to", "value", "validAfter", "validBefore", "nonce")


@dataclass(frozen=True)
class Authorized:
    """A payment whose envelope holds: who pays how much (atomic units) of which asset on
    which network, under which nonce (unique per network, asset and payer)."""

    payer: str
    network: str
    asset: str
    amount: int
    nonce: str


class Refused(Exception):
    """A payment refused: ``reason`` is the protocol's code (``insufficient_funds``,
    ``invalid_exact_evm_payload_signature``...), ``message`` says what is wrong in words,
    ``status`` is the answer's (402; 400 for a header that cannot be read at all)."""

    def __init__(
        self,
        reason: str,
        message: str,
        status: int = 402,
        *,
        payer: str | None = None,
        network: str | None = None,
    ) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason, self.message, self.status = reason, message, status
        self.payer, self.network = payer, network


def verify_evm(envelope: Mapping[str, Any], offered: Mapping[str, Any], now: float) -> Authorized:
    """The payment of an ``exact`` EVM ``envelope`` whose ``accepted`` is ``offered`` (the
    gateway has checked that), at ``now`` on the fake's clock; `Refused` otherwise."""
    network = str(offered["network"])
    payload = envelope.get("payload")
    auth = payload.get("authorization") if isinstance(payload, Mapping) else None
    signature = payload.get("signature") if isinstance(payload, Mapping) else None
    if not isinstance(auth, Mapping) or not isinstance(signature, str):
        raise Refused(
            "invalid_payload",
            "payload must hold an authorization object and a signature string",
            network=network,
        )
    missing = [name for name in _AUTHORIZATION if name not in auth]
    if missing:
        raise Refused(
            "invalid_payload", f"authorization lacks {', '.join(missing)}", network=network
        )
    payer = str(auth["from"])
    if not _ADDRESS.fullmatch(payer) or not _ADDRESS.fullmatch(str(auth["to"])):
        raise Refused("invalid_payload", "authorization.from and .to are 0x addresses")
    if not _NONCE.fullmatch(str(auth["nonce"])):
        raise Refused("invalid_payload", "authorization.nonce is 0x and 32 bytes in hex")
    value, after, before = (_integer(auth, name) for name in ("value", "validAfter", "validBefore"))
    refused = _refusal(auth, offered, value, after, before, now)
    if refused is not None:
        reason, message = refused
        raise Refused(reason, message, payer=payer, network=network)
    signer = _signer(auth, offered, signature, value, after, before)
    if signer is None or signer.lower() != payer.lower():
        raise Refused(
            "invalid_exact_evm_payload_signature",
            f"the signature does not recover to authorization.from {payer}",
            payer=payer,
            network=network,
        )
    return Authorized(
        payer=str(to_checksum_address(payer)),
        network=network,
        asset=str(offered["asset"]),
        amount=value,
        nonce=str(auth["nonce"]).lower(),
    )


def _refusal(
    auth: Mapping[str, Any],
    offered: Mapping[str, Any],
    value: int,
    after: int,
    before: int,
    now: float,
) -> tuple[str, str] | None:
    if str(auth["to"]).lower() != str(offered["payTo"]).lower():
        return "invalid_exact_evm_payload_recipient_mismatch", (
            f"authorization.to {auth['to']} is not the payTo {offered['payTo']}"
        )
    if value != int(offered["amount"]):
        return "invalid_exact_evm_payload_authorization_value_mismatch", (
            f"authorization.value {value} is not the price {offered['amount']}"
        )
    if after > now:
        return "invalid_exact_evm_payload_authorization_valid_after", (
            f"authorization.validAfter {after} is after now ({int(now)}): not valid yet"
        )
    if before < now + VALID_BEFORE_MARGIN:
        return "invalid_exact_evm_payload_authorization_valid_before", (
            f"authorization.validBefore {before} has passed (now {int(now)}, "
            f"{VALID_BEFORE_MARGIN} s of margin needed)"
        )
    return None


def _integer(auth: Mapping[str, Any], name: str) -> int:
    """A uint256 of the authorization (a decimal string, as the protocol sends them)."""
    value = auth[name]
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not text.isdecimal() or len(text) > 78:
        raise Refused("invalid_payload", f"authorization.{name} is a whole number, not {value!r}")
    return int(text)


def _signer(
    auth: Mapping[str, Any],
    offered: Mapping[str, Any],
    signature: str,
    value: int,
    after: int,
    before: int,
) -> str | None:
    """Who signed the authorization, as the token contract would recover it (None if the
    signature cannot be read at all)."""
    extra = offered.get("extra") or {}
    typed = transfer_authorization(
        {
            "name": extra["name"],
            "version": extra["version"],
            "chainId": int(str(offered["network"]).removeprefix("eip155:")),
            "verifyingContract": extra.get("verifyingContract") or offered["asset"],
        },
        {
            "from": auth["from"],
            "to": auth["to"],
            "value": value,
            "validAfter": after,
            "validBefore": before,
            "nonce": bytes.fromhex(str(auth["nonce"])[2:]),
        },
    )
    try:
        return str(
            Account.recover_message(encode_typed_data(full_message=typed), signature=signature)
        )
    except Exception:  # not hex, not 65 bytes, not a point on the curve: no signer
        return None
