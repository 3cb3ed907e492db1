"""The x402 ``exact`` scheme's EVM payment as the protocol defines it: an EIP-3009
``TransferWithAuthorization`` signed as EIP-712 typed data in the token's domain. One
definition for the gateway that recovers a signer (`mock_server.x402.verify`), the payer
that signs (`contract_tests.payments`) and the tests' envelopes; stdlib only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

AUTHORIZATION_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "TransferWithAuthorization": [
        {"name": "from", "type": "address"},
        {"name": "to", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "validAfter", "type": "uint256"},
        {"name": "validBefore", "type": "uint256"},
        {"name": "nonce", "type": "bytes32"},
    ],
}


def transfer_authorization(domain: Mapping[str, Any], message: Mapping[str, Any]) -> dict[str, Any]:
    """The typed data (eth-account's ``encode_typed_data(full_message=...)``) of one
    authorization: ``domain`` has name, version, chainId and verifyingContract;
    ``message`` from, to, value, validAfter, validBefore and nonce."""
    return {
        "types": AUTHORIZATION_TYPES,
        "primaryType": "TransferWithAuthorization",
        "domain": dict(domain),
        "message": dict(message),
    }
