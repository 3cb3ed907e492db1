"""A payer: one EVM key that signs x402 ``exact`` payments (EIP-3009
``TransferWithAuthorization`` over EIP-712, as the provider's handler signs them) for
the entries a gateway offers on its network, and keeps every envelope it signed.

    payer = Payer.fresh()                      # a throwaway key: it holds no funds anywhere
    client = AceDataCloud(base_url=fake_url, payment_handler=payer.handler())
    requests.post(url, json=body, headers=payer.headers(answer_402))   # a raw client

It signs only what it is asked: the entry of its network in the challenge, that
entry's amount to that entry's payTo. `sign` takes overrides for tests that need a
payment that is wrong in one way (another amount, an old nonce, an expired window).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..contract.x402 import transfer_authorization
from .challenge import NETWORKS, PAYMENT_SIGNATURE, challenge_of, encode, network_id

DEFAULT_TIMEOUT = 3600  # seconds an authorization stays valid when the entry does not say


def _eth_account() -> Any:
    """eth-account, loaded with the interpreter's recursion limit kept: py_ecc, under it,
    raises the limit to 100000 as it loads, which lets a deeply nested JSON document
    overflow the C stack (in a test process, or a fake served beside it) instead of
    being refused."""
    limit = sys.getrecursionlimit()
    try:
        import eth_account
        import eth_account.messages
    finally:
        sys.setrecursionlimit(limit)
    return eth_account


class NothingToPay(ValueError):
    """The challenge offers no entry this payer can sign (its network is not there)."""


def chain_id(entry: Mapping[str, Any]) -> int:
    """The chain of an EVM entry, from its CAIP-2 network (``eip155:8453`` → 8453)."""
    network = str(entry.get("network", ""))
    prefix, _, number = network.partition(":")
    if prefix != "eip155" or not number.isdecimal():
        raise NothingToPay(f"{network!r} is not an EVM network (eip155:<chain id>)")
    return int(number)


@dataclass
class Payer:
    """An EVM key (``key``, 0x-hex) and its ``address``; ``network``: the one it pays on
    (``base``, ``skale`` or a CAIP-2 id); ``signed``: every envelope it signed, in order."""

    key: str
    address: str
    network: str = "base"
    signed: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_key(cls, key: str, network: str = "base") -> Payer:
        key = key if key.startswith("0x") else "0x" + key
        return cls(key, _eth_account().Account.from_key(key).address, network)

    @classmethod
    def fresh(cls, network: str = "base") -> Payer:
        """A throwaway key, made from the OS's randomness: it holds nothing anywhere."""
        return cls.from_key("0x" + os.urandom(32).hex(), network)

    def on(self, network: str) -> Payer:
        """The same key, paying on another network (its own record of what it signs)."""
        return Payer(self.key, self.address, network)

    @property
    def network_id(self) -> str:
        return network_id(self.network)

    def choose(self, accepts: Sequence[Any]) -> dict[str, Any]:
        """The first ``exact`` entry on the payer's network, as the handler picks it."""
        for entry in accepts:
            mine = isinstance(entry, dict) and entry.get("network") == self.network_id
            if mine and entry.get("scheme", "exact") == "exact":
                return dict(entry)
        offered = ", ".join(str(e.get("network")) for e in accepts if isinstance(e, dict))
        raise NothingToPay(f"no exact entry for {self.network_id}; offered: {offered or 'none'}")

    def sign(
        self,
        entry: Mapping[str, Any],
        *,
        value: int | None = None,
        nonce: str | None = None,
        valid_before: int | None = None,
        now: float | None = None,
    ) -> dict[str, Any]:
        """The envelope paying ``entry``: its amount to its payTo, valid from now for its
        ``maxTimeoutSeconds``, a fresh random nonce — unless told otherwise."""
        eth_account = _eth_account()
        at = int(time.time() if now is None else now)
        timeout = int(entry.get("maxTimeoutSeconds") or DEFAULT_TIMEOUT)
        amount = entry.get("amount") or entry.get("maxAmountRequired") or "0"
        authorization = {
            "from": self.address,
            "to": str(entry["payTo"]),
            "value": str(int(amount) if value is None else value),
            "validAfter": "0",
            "validBefore": str(at + timeout if valid_before is None else valid_before),
            "nonce": nonce or "0x" + os.urandom(32).hex(),
        }
        extra = entry.get("extra") or {}
        domain = {
            "name": extra.get("name") or "USD Coin",
            "version": extra.get("version") or "2",
            "chainId": chain_id(entry),
            "verifyingContract": extra.get("verifyingContract") or entry.get("asset"),
        }
        typed = transfer_authorization(domain, authorization)
        signable = eth_account.messages.encode_typed_data(full_message=typed)
        signature = eth_account.Account.sign_message(signable, self.key)
        hex_signature = signature.signature.hex()  # 0x-less in recent hexbytes
        envelope = {
            "x402Version": 2,
            "accepted": dict(entry),
            "payload": {
                "authorization": authorization,
                "signature": "0x" + hex_signature.removeprefix("0x"),
            },
        }
        self.signed.append(envelope)
        return envelope

    def headers(self, challenge: Any) -> dict[str, str]:
        """``{"PAYMENT-SIGNATURE": ...}`` paying a challenge: a 402 response (``requests``,
        ``httpx`` or a Flask test client's: its header, else its body), the challenge as
        a dict, or the ``PAYMENT-REQUIRED`` header's value."""
        if isinstance(challenge, str):
            challenge = challenge_of({"PAYMENT-REQUIRED": challenge}, None)
        elif not isinstance(challenge, dict):  # requests/httpx (.content), Flask/werkzeug (.data)
            body = getattr(challenge, "content", None) or getattr(challenge, "data", b"")
            challenge = challenge_of(dict(challenge.headers), body)
        return {PAYMENT_SIGNATURE: encode(self.sign(self.choose(challenge.get("accepts") or [])))}

    def handler(self) -> Callable[[dict[str, Any]], dict[str, dict[str, str]]]:
        """A ``payment_handler`` for the provider's SDK (``AceDataCloud(...,
        payment_handler=payer.handler())``): given the 402's entries, the header to retry
        with — what ``acedatacloud_x402.create_x402_payment_handler`` returns, signed
        by this payer (EVM networks)."""

        def pay(context: dict[str, Any]) -> dict[str, dict[str, str]]:
            return {"headers": self.headers({"accepts": context.get("accepts") or []})}

        return pay

    @property
    def nonces(self) -> list[str]:
        return [e["payload"]["authorization"]["nonce"] for e in self.signed]

    def spent(self) -> int:
        """Atomic units signed for so far (whether or not the gateway took them)."""
        return sum(int(e["payload"]["authorization"]["value"]) for e in self.signed)


__all__ = ["NETWORKS", "NothingToPay", "Payer", "chain_id"]
