"""The ``PAYMENT-SIGNATURE`` header: standard base64 of the compact JSON of a payment
envelope (``{"x402Version": 2, "accepted": {...}, "payload": {...}}``), decoded. What
cannot be read at all is a 400 (`verify.Refused` with status 400, as the protocol's HTTP
transport answers an invalid payment); a readable envelope of another version is a 402.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .verify import Refused

X402_VERSION = 2
MAX_HEADER = 16_384  # characters: an envelope is well under 2 KB (a Solana one the largest)


def decode(header: str) -> dict[str, Any]:
    """The envelope in ``header``; `Refused` naming what is wrong with it."""
    text = header.strip()
    if len(text) > MAX_HEADER:
        raise Refused("invalid_payload", f"PAYMENT-SIGNATURE is over {MAX_HEADER} characters", 400)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Refused("invalid_payload", "PAYMENT-SIGNATURE is not standard base64", 400) from None
    try:
        envelope = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Refused(
            "invalid_payload", "PAYMENT-SIGNATURE is not the base64 of a JSON object", 400
        ) from None
    if not isinstance(envelope, dict):
        raise Refused("invalid_payload", "PAYMENT-SIGNATURE's JSON is not an object", 400)
    version = envelope.get("x402Version")
    if version != X402_VERSION:
        raise Refused("invalid_x402_version", f"x402Version is {version!r}; this gateway speaks 2")
    for name in ("accepted", "payload"):
        if not isinstance(envelope.get(name), dict):
            raise Refused("invalid_payload", f"the envelope's {name} is not an object", 400)
    return envelope
