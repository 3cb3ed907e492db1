"""Gateways that break the 402 contract in exactly one way each: the fake with ``x402``
on, in process, behind a WSGI middleware that rewrites one thing of an answer — its
body, and its ``PAYMENT-REQUIRED`` header with it or not. ``verify --x402`` must fail
on each, naming the right check. `BROKEN` maps a name to (the check, the rewrite)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from contract_tests.payments import encode
from contract_tests.provider import Target

TOKEN = "broken-gateway-token"
Rewrite = Callable[[str, int, dict[str, str], Any], tuple[int, Any, bool]]


class Rewritten:
    """WSGI middleware: run the app; ``rewrite(path, status, headers, body)`` returns the
    status and body to send, and whether the ``PAYMENT-REQUIRED`` header follows the new
    body (True) or keeps what the fake said (False)."""

    def __init__(self, app: Callable[..., Iterable[bytes]], rewrite: Rewrite) -> None:
        self.app, self.rewrite = app, rewrite

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        caught: dict[str, Any] = {}

        def catch(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            caught["status"], caught["headers"] = status, headers
            return lambda data: None

        content = b"".join(self.app(environ, catch))
        headers = dict(caught["headers"])
        body = json.loads(content) if "json" in headers.get("Content-Type", "") else content
        status, body, follow = self.rewrite(
            environ["PATH_INFO"], int(caught["status"].split()[0]), headers, body
        )
        out = body if isinstance(body, bytes) else json.dumps(body).encode()
        if follow and isinstance(body, dict):
            headers["PAYMENT-REQUIRED"] = encode(body)
        headers["Content-Length"] = str(len(out))
        start_response(f"{status} X", list(headers.items()))
        return [out]


def gateway(rewrite: Rewrite | None = None, **settings: Any) -> Target:
    """The fake as a gateway, in process (manual clock, one token), rewritten."""
    target = Target.in_process(TOKEN, x402=True, **settings)
    if rewrite is not None:
        from werkzeug.test import Client

        transport: Any = target.transport
        transport._client = Client(Rewritten(transport._client.application, rewrite))
    return target


def _challenge(status: int, body: Any) -> bool:
    return status == 402 and isinstance(body, dict) and isinstance(body.get("accepts"), list)


def header_not_body(path: str, status: int, headers: dict[str, str], body: Any) -> Any:
    """The body offers another price than the header the SDK reads first."""
    if _challenge(status, body):
        body = {**body, "accepts": [{**e, "amount": "1"} for e in body["accepts"]]}
    return status, body, False


def polls_asked_to_pay(path: str, status: int, headers: dict[str, str], body: Any) -> Any:
    """Every read of a task is answered 402 with a challenge, header and all."""
    if path == "/luma/tasks":
        offer = {
            "scheme": "exact",
            "network": "eip155:8453",
            "amount": "10000",
            "payTo": "0x4F0E2D3477a1B94CF33d16E442CEe4733dadCeE7",
            "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
            "maxTimeoutSeconds": 3600,
            "extra": {"name": "USD Coin", "version": "2"},
        }
        return 402, {"x402Version": 2, "error": "Payment Required", "accepts": [offer]}, True
    return status, body, False


def amount_as_decimal(path: str, status: int, headers: dict[str, str], body: Any) -> Any:
    """An entry's amount in USDC (``"0.50"``) instead of atomic units — header and body
    agree on it."""
    if _challenge(status, body):
        first, *others = body["accepts"]
        body = {**body, "accepts": [{**first, "amount": "0.50"}, *others]}
        return status, body, True
    return status, body, False


BROKEN: dict[str, tuple[str, Rewrite]] = {
    "header_not_body": ("x402-header-equals-body", header_not_body),
    "polls_asked_to_pay": ("x402-free-polls", polls_asked_to_pay),
    "amount_as_decimal": ("x402-challenge", amount_as_decimal),
}
