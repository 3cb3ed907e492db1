"""What travels in x402's headers, read and written with the standard library only.

A gateway answers an unpaid call 402 with a challenge — ``{"x402Version": 2, "error",
"resource", "accepts": [entry, ...]}`` — in the body and, as the standard padded base64
of the same JSON, in the ``PAYMENT-REQUIRED`` header. The client answers with a
``PAYMENT-SIGNATURE`` header: the base64 of a compact JSON envelope ``{"x402Version",
"accepted": <the entry it chose, verbatim>, "payload": {...}}``. Amounts are strings of
atomic units (USDC has 6 decimals).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

PAYMENT_REQUIRED = "PAYMENT-REQUIRED"
PAYMENT_SIGNATURE = "PAYMENT-SIGNATURE"
PAYMENT_RESPONSE = "PAYMENT-RESPONSE"
USDC_DECIMALS = 6

# The names the provider's payment handler takes, and their CAIP-2 ids on the wire.
NETWORKS = {
    "base": "eip155:8453",
    "skale": "eip155:1187947933",
    "solana": "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
}


def network_id(name: str) -> str:
    """``base`` → ``eip155:8453``; a CAIP-2 id is returned as it is."""
    return NETWORKS.get(name, name)


def encode(value: Any) -> str:
    """Standard padded base64 of compact JSON, as the handler writes an envelope."""
    return base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode("ascii")


def decode(header: str) -> Any:
    """The JSON inside a base64 header; ValueError naming what is wrong."""
    try:
        raw = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError) as bad:
        raise ValueError(f"not standard base64: {bad}") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as bad:
        raise ValueError(f"its base64 does not hold JSON: {bad}") from None


def challenge_of(headers: Mapping[str, str], body: Any) -> dict[str, Any]:
    """A 402's challenge as a client reads it: the ``PAYMENT-REQUIRED`` header first
    (any case of its name), else the body; ValueError when neither is a JSON object."""
    for name, value in headers.items():
        if name.lower() == PAYMENT_REQUIRED.lower():
            found = decode(value)
            if not isinstance(found, dict):
                raise ValueError(f"{PAYMENT_REQUIRED} holds {type(found).__name__}, not an object")
            return found
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            raise ValueError("the 402 has no PAYMENT-REQUIRED header and no JSON body") from None
    if not isinstance(body, dict):
        raise ValueError("the 402 has no PAYMENT-REQUIRED header and its body is no object")
    return body


def atomic(amount: str | Decimal) -> int:
    """USDC as a decimal (``"0.50"``) → atomic units (500000); ValueError when it is
    not a non-negative amount with at most 6 decimals."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not an amount of USDC") from None
    units = value * 10**USDC_DECIMALS
    if value < 0 or units != units.to_integral_value():
        raise ValueError(f"{amount!r} is not an amount of USDC (>= 0, at most 6 decimals)")
    return int(units)


def usdc(units: int) -> str:
    """Atomic units → USDC as a decimal string: 500000 → ``"0.5"``."""
    text = format(Decimal(units).scaleb(-USDC_DECIMALS).quantize(Decimal("0.000001")), "f")
    return text.rstrip("0").rstrip(".")
