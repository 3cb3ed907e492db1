"""What verifying a payment comes to: the payment `Authorized` (who pays what, under which
nonce), or `Refused` with the protocol's reason code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Authorized:
    """A payment that verified: ``payer`` pays ``amount`` (atomic units) of ``asset`` on
    ``network``; ``nonce`` is what makes it single-use (the ledger's key)."""

    payer: str
    network: str
    asset: str
    amount: int
    nonce: str


class Refused(Exception):
    """A payment the gateway will not take: ``reason`` is the protocol's reason code (it
    goes in the 402's ``error``), ``message`` says in words what is wrong."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
