"""The challenge: what a paid call without a payment is answered (402), as the provider's
gateway answers it — ``exact`` offers on Base, SKALE and Solana, in USDC — and the body
whose standard base64 is the ``PAYMENT-REQUIRED`` header (the HTTP layer encodes the body
once and sends those very bytes in both).

Assets and EIP-712 domains are the provider's (``X402.md``). On Solana, ``extra.feePayer``
is the fake's own key (the fee payer's signature is never needed: nothing is sent to a
chain) and ``extra.rpcUrl`` the fake's own Solana RPC endpoint (`SOLANA_RPC_PATH`), which
answers what the payment handler asks while it signs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

X402_VERSION = 2
MAX_TIMEOUT_SECONDS = 3600  # how long a signed authorization may be valid (the provider's)
SOLANA_RPC_PATH = "/__x402/solana"
# The fake's own Solana fee payer (a fixed key, derived from a fixed seed: documented).
FEE_PAYER = "7oqYx9fLdsNDmjj42eJqCVUMTKUY6bZTQikspNp9mhvd"


@dataclass(frozen=True)
class Chain:
    """One network the gateway is paid on, and its USDC."""

    network: str  # CAIP-2
    asset: str
    name: str = ""  # the token's EIP-712 domain (EVM)
    version: str = ""

    @property
    def evm(self) -> bool:
        return self.network.startswith("eip155:")


BASE = Chain("eip155:8453", "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "USD Coin", "2")
SKALE = Chain(
    "eip155:1187947933",
    "0x85889c8c714505E0c94b30fcfcF64fE3Ac8FCb20",
    "Bridged USDC (SKALE Bridge)",
    "2",
)
SOLANA = Chain(
    "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
)
CHAINS = (BASE, SKALE, SOLANA)  # in the order offered: the handler takes its network's first


def offers(
    amount: int, resource: str, base_url: str, pay_to: str, pay_to_solana: str, description: str
) -> list[dict[str, Any]]:
    """The ``accepts`` entries for one call costing ``amount`` atomic units of USDC."""
    entries = []
    for chain in CHAINS:
        entry: dict[str, Any] = {
            "scheme": "exact",
            "network": chain.network,
            "amount": str(amount),
            "resource": resource,
            "description": description,
            "mimeType": "application/json",
            "payTo": pay_to if chain.evm else pay_to_solana,
            "maxTimeoutSeconds": MAX_TIMEOUT_SECONDS,
            "asset": chain.asset,
        }
        if chain.evm:
            chain_id = int(chain.network.removeprefix("eip155:"))
            entry["extra"] = {
                "name": chain.name,
                "version": chain.version,
                "chainId": chain_id,
                "verifyingContract": chain.asset,
            }
        else:
            entry["extra"] = {"feePayer": FEE_PAYER, "rpcUrl": base_url + SOLANA_RPC_PATH}
        entries.append(entry)
    return entries


def challenge(
    accepts: list[dict[str, Any]],
    resource: str,
    description: str,
    error: str = "Payment Required",
    message: str | None = None,
) -> dict[str, Any]:
    """The 402 body: the offers, and ``error`` — a refusal's reason code (with its
    ``message`` in words), or "Payment Required" when no payment was sent."""
    body: dict[str, Any] = {
        "x402Version": X402_VERSION,
        "error": error,
        "resource": {"url": resource, "description": description, "mimeType": "application/json"},
        "accepts": accepts,
    }
    if message is not None:
        body["message"] = message
    return body
