"""Clients that pay per call (x402) and are each wrong in exactly one way, as adapter
factories for the consumer suite's x402 situations (``factory(base_url, token,
payer=None)``). Each starts from the reference client, which pays a 402 once with the
payer it is given, and breaks one thing a paying client can get wrong; the suite must
name the check.
"""

from __future__ import annotations

from typing import Any

import requests

from contract_tests.acedata.adapters import RequestsAdapter
from contract_tests.consumer import ConsumerReport, run_consumer_suite
from contract_tests.payments import PAYMENT_SIGNATURE, Payer, challenge_of, encode
from tests.broken_clients import TIMEOUT

BASE_SEPOLIA = "eip155:84532"  # Base's test network: not what the gateway offers
LIST_PRICE = "500000"  # 0.50 USDC: the gateway's default price, which a client may assume


def suite(factory: object, fake_url: str, only: str = "x402") -> ConsumerReport:
    """The ci profile on the x402 situations whose name contains ``only``."""
    return run_consumer_suite(
        factory,  # type: ignore[arg-type]
        fake_url=fake_url,
        client_timeout=TIMEOUT,
        x402=True,
        only=lambda case: case.x402 and only in case.name,
    )


class Paying(RequestsAdapter):
    """The reference client, paying with the payer it is given."""

    def __init__(self, base_url: str, token: str, payer: Payer | None = None) -> None:
        super().__init__(base_url, token, timeout=TIMEOUT, payer=payer)

    @property
    def signer(self) -> Payer:
        assert self.payer is not None, "the suite gives a payer in its x402 situations"
        return self.payer

    def entry(self, challenge: requests.Response) -> dict[str, Any]:
        return self.signer.choose(challenge_of(challenge.headers, challenge.content)["accepts"])

    def paid(self, path: str, body: dict[str, Any], timeout: float, envelope: Any) -> Any:
        return self._send(path, body, timeout, {PAYMENT_SIGNATURE: encode(envelope)})


class PaysTwice(Paying):
    """Pays, then sends the paid request again with a second payment "to be sure"."""

    def _pay(self, path: str, body: dict[str, Any], timeout: float, challenge: Any) -> Any:
        super()._pay(path, body, timeout, challenge)
        return super()._pay(path, body, timeout, challenge)


class PaysForPolls(Paying):
    """Remembers the last challenge and pays it on every request, polls included."""

    challenge: requests.Response | None = None

    def _pay(self, path: str, body: dict[str, Any], timeout: float, challenge: Any) -> Any:
        self.challenge = challenge
        return super()._pay(path, body, timeout, challenge)

    def _send(
        self, path: str, body: dict[str, Any], timeout: float, headers: dict[str, str] | None = None
    ) -> requests.Response:
        if path == "/luma/tasks" and self.challenge is not None:
            headers = {**(headers or {}), **self.signer.headers(self.challenge)}
        return super()._send(path, body, timeout, headers)


class RetriesAfterRefusal(Paying):
    """Takes a refused payment for a glitch: signs again and resends, up to three times."""

    def _pay(self, path: str, body: dict[str, Any], timeout: float, challenge: Any) -> Any:
        answer = challenge
        for _ in range(3):
            answer = super()._pay(path, body, timeout, answer)
            if answer.status_code != 402:
                break
        return answer


class AssumesThePrice(Paying):
    """Signs the list price it read somewhere (0.50 USDC) instead of the entry's amount."""

    def _pay(self, path: str, body: dict[str, Any], timeout: float, challenge: Any) -> Any:
        entry = {**self.entry(challenge), "amount": LIST_PRICE}
        return self.paid(path, body, timeout, self.signer.sign(entry))


class PaysOnATestNetwork(Paying):
    """Signs the entry for Base's test network, which the gateway does not offer."""

    def _pay(self, path: str, body: dict[str, Any], timeout: float, challenge: Any) -> Any:
        entry = {**self.entry(challenge), "network": BASE_SEPOLIA}
        return self.paid(path, body, timeout, self.signer.sign(entry))


class ReusesANonce(Paying):
    """Draws one nonce and signs every payment with it."""

    nonce: str | None = None

    def _pay(self, path: str, body: dict[str, Any], timeout: float, challenge: Any) -> Any:
        envelope = self.signer.sign(self.entry(challenge), nonce=self.nonce)
        self.nonce = envelope["payload"]["authorization"]["nonce"]
        return self.paid(path, body, timeout, envelope)


class NeverPays(Paying):
    """Takes a payer but never uses it: the 402 goes back to the caller."""

    def _pay(self, path: str, body: dict[str, Any], timeout: float, challenge: Any) -> Any:
        return challenge


class WithoutAPayer(RequestsAdapter):
    """A factory of the old shape, ``factory(base_url, token)``: no x402 situations."""

    def __init__(self, base_url: str, token: str) -> None:
        super().__init__(base_url, token, timeout=TIMEOUT)
