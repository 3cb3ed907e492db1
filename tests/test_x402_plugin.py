"""The pytest plugin's x402 side, run as users run it (a pytester session of its own):
``luma_payer`` pays a fake that ``@pytest.mark.luma(x402=True)`` turns into the gateway;
without the marker no one is asked to pay. (docs/x402.md's own example, run by
tests/test_examples.py, pays ``luma_server`` over a socket through the SDK and a raw
client: a server costs seconds, so this one stays in process.)"""

from __future__ import annotations

import textwrap

import pytest

NO_OTHER_PLUGINS = ("-p", "no:schemathesis", "-p", "no:cacheprovider")


def test_luma_payer_pays_the_gateway_the_marker_makes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user=textwrap.dedent(
            """
            import pytest

            @pytest.mark.luma(x402=True, x402_price="0.25")
            def test_each_payment_is_the_payers(luma_fake, luma_payer):
                client = luma_fake.client()
                asked = client.post("/luma/videos", json={"prompt": "a cat"})
                assert asked.status_code == 402 and "PAYMENT-REQUIRED" in asked.headers
                skale = luma_payer.on("skale")
                for payer in (luma_payer, skale):
                    paid = client.post("/luma/videos", json={"prompt": "a cat"},
                                       headers=payer.headers(asked))
                    assert paid.status_code == 200, paid.get_data(as_text=True)
                shown = [(p["payer"], p["network"], p["amount"], p["nonce"], p["outcome"])
                         for p in luma_fake.payments.list()]
                assert shown == [
                    (luma_payer.address, "eip155:8453", "0.25", luma_payer.nonces[0], "settled"),
                    (luma_payer.address, "eip155:1187947933", "0.25", skale.nonces[0], "settled"),
                ]
                luma_fake.payments.refuse("insufficient_funds")
                refused = client.post("/luma/videos", json={"prompt": "a cat"},
                                      headers=luma_payer.headers(asked))
                assert refused.get_json()["error"] == "insufficient_funds"

            def test_without_the_marker_no_one_is_asked_to_pay(luma_fake):
                answer = luma_fake.client().post("/luma/videos", json={"prompt": "a cat"})
                assert answer.status_code == 401
            """
        )
    )
    result = pytester.runpytest_subprocess(*NO_OTHER_PLUGINS)
    result.assert_outcomes(passed=2)
