"""Payers for the x402 tests: fresh eth-account keys, the provider's payment handler for
the SDK, and raw envelopes built and signed here (eth-account's ``encode_typed_data`` and
``Account.sign_message``) — a valid one, or one broken in exactly one way."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from typing import Any

import requests

from contract_tests.contract.x402 import transfer_authorization

# isort: off
# First: it loads eth-account keeping the interpreter's recursion limit (py_ecc raises
# it to 100000, and every later test of a deep JSON body would see that).
import mock_server.x402  # noqa: F401
from acedatacloud_x402 import create_x402_payment_handler
from acedatacloud_x402.signing.evm import EVMAccountSigner
from eth_account import Account
from eth_account.messages import encode_typed_data

# isort: on

BASE = "eip155:8453"
SKALE = "eip155:1187947933"
SOLANA = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"
BODY = {"prompt": "Astronauts shuttle from space to volcano", "async": True}


class Payer:
    """A throwaway EVM payer."""

    def __init__(self) -> None:
        account = Account.create()
        self.key, self.address = account.key.hex(), account.address

    def handler(self, network: str = "base") -> Any:
        """The provider's payment handler, paying with this key (the SDK's ``payment_handler``)."""
        signer = EVMAccountSigner.from_private_key(self.key)
        return create_x402_payment_handler(network=network, evm_signer=signer)  # type: ignore[arg-type]

    def envelope(
        self,
        offer: Mapping[str, Any],
        *,
        now: float,
        signer: str | None = None,
        **changes: Any,
    ) -> dict[str, Any]:
        """An ``exact`` envelope for ``offer``, valid at ``now`` unless ``changes`` alter
        its authorization (``to``, ``value``, ``validAfter``, ``validBefore``, ``nonce``);
        signed by ``signer`` (a key) instead of this payer's if given."""
        authorization = {
            "from": self.address,
            "to": offer["payTo"],
            "value": str(offer["amount"]),
            "validAfter": "0",
            "validBefore": str(int(now) + int(offer["maxTimeoutSeconds"])),
            "nonce": "0x" + os.urandom(32).hex(),
        }
        authorization.update({k: str(v) for k, v in changes.items()})
        return {
            "x402Version": 2,
            "accepted": dict(offer),
            "payload": {
                "authorization": authorization,
                "signature": sign(offer, authorization, signer or self.key),
            },
        }


def sign(offer: Mapping[str, Any], authorization: Mapping[str, str], key: str) -> str:
    """EIP-712 ``TransferWithAuthorization`` over ``authorization`` in ``offer``'s domain."""
    extra = offer["extra"]
    typed = transfer_authorization(
        {
            "name": extra["name"],
            "version": extra["version"],
            "chainId": extra["chainId"],
            "verifyingContract": extra["verifyingContract"],
        },
        {
            **authorization,
            "value": int(authorization["value"]),
            "validAfter": int(authorization["validAfter"]),
            "validBefore": int(authorization["validBefore"]),
        },
    )
    signed = Account.sign_message(encode_typed_data(full_message=typed), private_key=key)
    return "0x" + signed.signature.hex().removeprefix("0x")


def header(envelope: Mapping[str, Any]) -> dict[str, str]:
    """The ``PAYMENT-SIGNATURE`` header carrying ``envelope``."""
    text = json.dumps(envelope, separators=(",", ":"))
    return {"PAYMENT-SIGNATURE": base64.b64encode(text.encode()).decode()}


def challenge(url: str, body: Any = BODY) -> dict[str, Any]:
    """The 402 a paid call without a payment gets, its header checked against its body."""
    answer = requests.post(url + "/luma/videos", json=body, timeout=30)
    assert answer.status_code == 402, answer.text
    assert json.loads(base64.b64decode(answer.headers["PAYMENT-REQUIRED"])) == answer.json()
    return dict(answer.json())


def offer(url: str, network: str = BASE, body: Any = BODY) -> dict[str, Any]:
    """The challenge's entry for ``network``."""
    return next(e for e in challenge(url, body)["accepts"] if e["network"] == network)


def pay(
    url: str, envelope: Mapping[str, Any], body: Any = BODY, **headers: str
) -> requests.Response:
    return requests.post(
        url + "/luma/videos", json=body, headers={**header(envelope), **headers}, timeout=30
    )
