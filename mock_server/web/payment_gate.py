"""The x402 gate in front of a pack's calls (``serve --x402``), for the endpoints of `api`:
what the HTTP side of the gateway (`mock_server.x402.gateway`) reads and answers.

On a paid call: a ``PAYMENT-SIGNATURE`` header is verified and claimed before the engine
sees the call (a refusal is a 402, or a 400 for a header that cannot be read, with a
fresh challenge: no task, no charge); with no payment, a valid bearer token is served as
before (credits), and anything else gets the challenge. The challenge's body and its
``PAYMENT-REQUIRED`` header are one encoding of it (`api` sends the bytes it wrote).
Once the engine has answered, `finish` settles a payment (2xx, with a
``PAYMENT-RESPONSE``) or releases it. The pack's other calls (polls) are free and need
no token: a payer's tasks belong to `PAYER_TOKEN` unless a bearer token came along.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..engine.accounts import PaidToken
from ..engine.errors import ApiError
from ..engine.service import Engine
from .exchanges import MAX_JSON_DEPTH, base_url, nests_deeper_than

if TYPE_CHECKING:
    from ..x402.gateway import Gateway, Payment

log = logging.getLogger("luma_mock.x402")

# Who owns what a payer without a bearer token made, and polls it: the task id is the
# capability, as on the provider's gateway where a paying client polls with no token.
PAYER_TOKEN = "x402-payer"


class PaymentRequired(Exception):
    """A challenge (402, or 400 for an unreadable payment) to answer instead of the call,
    and the refused payment as logged (None when no payment came)."""

    def __init__(self, body: dict[str, Any], status: int, record: dict[str, Any] | None) -> None:
        super().__init__(body.get("error"))
        self.body, self.status, self.record = body, status, record


def required_header(payload: bytes) -> tuple[str, str]:
    """``PAYMENT-REQUIRED``: the standard (padded) base64 of the very bytes of the body."""
    return "PAYMENT-REQUIRED", base64.b64encode(payload).decode("ascii")


class Gate:
    """One route's gate: ``paid`` its paid methods (the others are free)."""

    def __init__(self, gateway: Gateway, paid: frozenset[str]) -> None:
        self.gateway, self.paid = gateway, paid

    def admit(
        self,
        environ: dict[str, Any],
        luma: Engine,
        endpoint: str,
        method: str,
        path: str,
        read: Callable[[dict[str, Any]], bytes],
    ) -> tuple[str, Payment | None, bytes | None]:
        """The call's token, its payment (claimed) and its raw body if read here; raises
        `PaymentRequired` for a paid call that is neither paid nor authenticated."""
        authorization = environ.get("HTTP_AUTHORIZATION")
        if method not in self.paid:  # free: a poll
            if authorization is None:
                return PAYER_TOKEN, None, None
            return luma.authenticate(authorization), None, None
        token = _token(luma, authorization)
        header = environ.get("HTTP_PAYMENT_SIGNATURE")
        if header is None and token is not None:
            return token, None, None  # a token-only client: served as ever
        raw = read(environ)
        gateway = self.gateway
        price = gateway.price_of(luma, endpoint, _json(raw))
        accepts = gateway.offers(price, base_url(environ), path)
        if header is None:
            raise PaymentRequired(gateway.challenge(accepts), 402, None)
        from ..x402.verify import Refused  # loaded with the gateway already

        now = luma.clock.now()
        try:
            payment = gateway.authorize(header, accepts, now)
        except Refused as refused:
            record = gateway.refused(refused, now)
            body = gateway.challenge(accepts, refused)
            raise PaymentRequired(body, refused.status, record) from None
        return PaidToken(token or PAYER_TOKEN), payment, raw

    def finish(
        self, luma: Engine, payment: Payment, status: int, task_id: str | None
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Settle (a 2xx) or release (anything else) the call's payment: the payment as
        the journal shows it, and the headers to add (a settled one's receipt)."""
        from ..x402.gateway import receipt

        now = luma.clock.now()
        if 200 <= status < 300:
            record = self.gateway.settle(payment, task_id, now)
            shown = json.dumps(receipt(payment), separators=(",", ":")).encode()
            return record, [("PAYMENT-RESPONSE", base64.b64encode(shown).decode("ascii"))]
        return self.gateway.release(payment, task_id, now), []


def _token(luma: Engine, authorization: str | None) -> str | None:
    """The bearer token if it is one the fake accepts, else None (then a payment pays)."""
    if authorization is None:
        return None
    try:
        return luma.authenticate(authorization)
    except ApiError:
        return None


def _json(raw: bytes) -> Any:
    """The body for pricing (an unreadable one is priced at the default; the engine
    answers it 400 afterwards, and a payment for it is released)."""
    if nests_deeper_than(raw, MAX_JSON_DEPTH):  # never decoded: see `MAX_JSON_DEPTH`
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
