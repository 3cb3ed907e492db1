"""The pytest plugin's x402 side, run as users run it (pytester sessions of their own):
``luma_payer`` pays a fake that ``@pytest.mark.luma(x402=True)`` turns into the gateway,
through the provider's SDK and through a raw client."""

from __future__ import annotations

import textwrap

import pytest

NO_OTHER_PLUGINS = ("-p", "no:schemathesis", "-p", "no:cacheprovider")


def test_luma_payer_pays_the_gateway_the_marker_starts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user=textwrap.dedent(
            """
            import pytest, requests
            from acedatacloud import AceDataCloud

            GATEWAY = pytest.mark.luma(x402=True, x402_price="0.25")

            @GATEWAY
            def test_the_sdk_pays_then_polls_free(luma_server, luma_payer, monkeypatch):
                monkeypatch.delenv("ACEDATACLOUD_API_TOKEN", raising=False)
                client = AceDataCloud(base_url=luma_server.url, max_retries=0,
                                      payment_handler=luma_payer.handler())
                handle = client.luma.generate(prompt="a cat", async_=True)
                record = client.tasks.get(handle.id, service="luma")
                assert record["response"]["state"] == "completed"
                [paid] = luma_server.payments.list()
                assert paid["outcome"] == "settled" and paid["amount"] == "0.25"
                assert paid["payer"] == luma_payer.address
                assert paid["nonce"] == luma_payer.nonces[0]

            @GATEWAY
            def test_a_raw_client_pays_the_402_with_headers(luma_server, luma_payer):
                url = luma_server.url + "/luma/videos"
                asked = requests.post(url, json={"prompt": "a cat"}, timeout=10)
                assert asked.status_code == 402
                paid = requests.post(url, json={"prompt": "a cat"}, timeout=10,
                                     headers=luma_payer.headers(asked))
                assert paid.status_code == 200 and paid.json()["state"] == "completed"
                luma_server.payments.refuse("insufficient_funds")
                refused = requests.post(url, json={"prompt": "a cat"}, timeout=10,
                                        headers=luma_payer.headers(asked.json()))
                assert refused.status_code == 402
                assert refused.json()["error"] == "insufficient_funds"

            def test_without_the_marker_no_one_is_asked_to_pay(luma_server):
                answer = requests.post(luma_server.url + "/luma/videos",
                                       json={"prompt": "a cat"}, timeout=10)
                assert answer.status_code == 401
            """
        )
    )
    result = pytester.runpytest_subprocess(*NO_OTHER_PLUGINS)
    result.assert_outcomes(passed=3)
