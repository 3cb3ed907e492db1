"""The paying side of x402: what a gateway's challenge says (`challenge`: decoding the
``PAYMENT-REQUIRED`` header and the ``PAYMENT-SIGNATURE`` envelope, the networks by
name, USDC in atomic units) and a payer that signs what it is asked (`payer`: a
throwaway EVM key, an SDK ``payment_handler``, headers for a raw client).

The consumer suite gives a payer to the client it checks, the provider suite pays a
gateway with one (opt-in, under a spending cap), the pytest plugin hands one to tests
(``luma_payer``). It is the client's half, written apart from the fake's
(`mock_server.x402`, which verifies what is signed here): nothing of the fake is
imported. `challenge` needs only the standard library; `payer` needs ``eth-account``
(``luma-mock[x402]``), imported when a payer is made.
"""

from __future__ import annotations

from .challenge import (
    NETWORKS,
    PAYMENT_REQUIRED,
    PAYMENT_RESPONSE,
    PAYMENT_SIGNATURE,
    atomic,
    challenge_of,
    decode,
    encode,
    network_id,
    usdc,
)
from .payer import Payer

__all__ = [
    "NETWORKS",
    "PAYMENT_REQUIRED",
    "PAYMENT_RESPONSE",
    "PAYMENT_SIGNATURE",
    "Payer",
    "atomic",
    "challenge_of",
    "decode",
    "encode",
    "network_id",
    "usdc",
]
