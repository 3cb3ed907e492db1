"""verify-client's x402 situations: a client given a payer and no token, against the fake
that plays the gateway. The reference client and the provider's SDK with its payment
handler keep every check; a client that pays wrong in one way fails the check that names
its defect. One fake (``serve --x402`` at the suite's price) serves the module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from contract_tests.checks.payments import X402_CHECKS
from contract_tests.consumer import LiveFake
from contract_tests.consumer.suite import X402_PRICE
from contract_tests.payments import Payer
from tests import broken_payers
from tests.broken_clients import TIMEOUT
from tests.broken_payers import suite


@pytest.fixture(scope="module")
def gateway_url() -> Iterator[str]:
    fake = LiveFake("--x402", "--x402-price", X402_PRICE)
    try:
        yield fake.url
    finally:
        fake.stop()


def test_the_reference_client_keeps_every_x402_check(gateway_url: str) -> None:
    report = suite(broken_payers.Paying, gateway_url)

    assert report.ok, report.render()
    tally = report.tally()
    for name in X402_CHECKS:
        passed, failed, skipped = tally[name]
        assert passed > 0 and failed == 0 and skipped == 0, (name, tally[name])
    names = [r.name for r in report.results]
    assert "x402: generate (async), paid, then retrieve (free)" in names
    assert "x402: generate, payment refused (insufficient_funds)" in names


class PayingSdk:
    """The provider's SDK with the provider's payment handler, no token."""

    def __init__(self, base_url: str, token: str, payer: Payer | None = None) -> None:
        from acedatacloud import AceDataCloud
        from acedatacloud_x402 import EVMAccountSigner, create_x402_payment_handler

        handler = None
        if payer is not None:
            signer = EVMAccountSigner.from_private_key(payer.key)
            handler = create_x402_payment_handler(network=payer.network, evm_signer=signer)  # type: ignore[arg-type]
        self.client = AceDataCloud(
            api_token=token or None,
            base_url=base_url,
            timeout=TIMEOUT,
            max_retries=0,
            payment_handler=handler,
        )

    def generate(self, **fields: Any) -> Any:
        return self._submit(fields)

    def extend(self, **fields: Any) -> Any:
        return self._submit({"action": "extend", **fields})

    def retrieve(self, task_id: str) -> Any:
        return self.client.tasks.get(task_id, service="luma")

    def _submit(self, fields: dict[str, Any]) -> Any:
        if "async" in fields:
            fields["async_"] = fields.pop("async")
        handle = self.client.luma.generate(**fields)
        finished = handle.result()
        return finished["response"] if finished else {"task_id": handle.id}

    def close(self) -> None:
        self.client.close()


def test_the_providers_sdk_with_its_handler_keeps_every_x402_check(
    gateway_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On SKALE too: the same handler, another entry (tests/test_x402_gateway.py pays there).
    pytest.importorskip("acedatacloud_x402")
    monkeypatch.delenv("ACEDATACLOUD_API_TOKEN", raising=False)  # it would pay with that
    from contract_tests.consumer import run_consumer_suite

    report = run_consumer_suite(
        PayingSdk,
        fake_url=gateway_url,
        client_timeout=TIMEOUT,
        x402=True,
        x402_network="skale",
        only=lambda case: case.x402,
    )
    assert report.ok, report.render()
    assert all(report.tally()[name][0] > 0 for name in X402_CHECKS), report.table()


@pytest.mark.parametrize(
    ("client", "only", "check", "words"),
    [
        ("PaysTwice", "generate (sync)", "pays-once-per-call", "paid 2 times for one call"),
        ("PaysForPolls", "retrieve", "pays-once-per-call", "paid for a poll"),
        ("RetriesAfterRefusal", "insufficient_funds", "payment-refusal-raised", "retried"),
        ("AssumesThePrice", "generate (sync)", "pays-what-was-asked", "did not offer"),
        ("PaysOnATestNetwork", "generate (sync)", "pays-what-was-asked", "eip155:84532"),
        ("ReusesANonce", "generate (sync)", "fresh-nonce", "a nonce it had sent before"),
        ("NeverPays", "generate (sync)", "pays-once-per-call", "never paid"),
    ],
)
def test_a_client_that_pays_wrong_fails_the_check_that_names_it(
    gateway_url: str, client: str, only: str, check: str, words: str
) -> None:
    report = suite(getattr(broken_payers, client), gateway_url, only)

    assert not report.ok
    found = [f for f in report.failures if f.check == check]
    assert found, report.render()
    assert words in found[0].title, found[0].title
    assert found[0].expected and found[0].actual
    # The reproduction says how the payer was given, and what the client sent.
    assert "payer=<payer on base>" in found[0].reproduce, found[0].reproduce
    assert "# the client sent: curl" in found[0].reproduce
    if client != "NeverPays":  # the payment, as it was sent
        assert "-H 'PAYMENT-SIGNATURE: ey" in found[0].reproduce, found[0].reproduce


def test_a_refused_payment_is_scripted_and_costs_nothing(gateway_url: str) -> None:
    from contract_tests.consumer import FakeControl

    report = suite(broken_payers.Paying, gateway_url, "insufficient_funds")
    assert report.ok, report.render()
    # The fake was left as the last example set it: the payment refused, no task made.
    payments = FakeControl(gateway_url).payments()
    assert [p["outcome"] for p in payments] == ["refused:insufficient_funds"]
    assert payments[0]["task_id"] is None and payments[0]["network"] == "eip155:8453"


def test_an_old_style_factory_or_a_fake_that_is_no_gateway_skips_them(
    gateway_url: str, fake_url: str
) -> None:
    report = suite(broken_payers.WithoutAPayer, gateway_url)
    assert report.ok
    skipped = {r.skipped for r in report.results}
    assert skipped == {"the adapter factory takes no payer: factory(base_url, token, payer=None)"}

    report = suite(broken_payers.Paying, fake_url)  # a plain `luma-mock serve`
    assert report.ok
    skipped = {r.skipped for r in report.results}
    assert skipped == {f"the fake at {fake_url} does not play the gateway (serve --x402)"}
