"""``serve --x402``: the fake as AceDataCloud's pay-per-call gateway, over real sockets.
The provider's SDK pays with its payment handler (fresh eth-account keys) on Base and
SKALE and polls for free; raw envelopes (`tests.x402_support`) each broken one way are
refused with the protocol's reason, in a fresh challenge whose header is its body, with
no task and no charge; a bad body costs nothing. One server for the module, on a manual
clock (an authorization's window is checked on the fake's clock)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from acedatacloud import AceDataCloud, APIError

from tests.support import AUTH, PROMPT, LiveServer, live_server
from tests.x402_support import BASE, BODY, SKALE, Payer, challenge, header, offer, pay

FAST = {"poll_interval": 0.05, "max_wait": 10.0}


@pytest.fixture(scope="module")
def gateway() -> Iterator[LiveServer]:
    with live_server("--x402", "--clock", "manual", "--delay", "instant") as running:
        yield running


@pytest.fixture(autouse=True)
def _no_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACEDATACLOUD_API_TOKEN", raising=False)  # a payer has no token


def now(fake: LiveServer) -> float:
    return float(fake.session.get(fake.url + "/__admin/clock", timeout=10).json()["now"])


def advance(fake: LiveServer, seconds: float) -> None:
    fake.session.post(fake.url + "/__admin/clock/advance", json={"seconds": seconds}, timeout=10)


def entries(fake: LiveServer, **filters: Any) -> list[dict[str, Any]]:
    answer = fake.session.get(fake.url + "/__admin/journal", params=filters, timeout=10)
    return list(answer.json()["entries"])


def payments_of(fake: LiveServer, payer: str) -> list[dict[str, Any]]:
    shown = fake.session.get(fake.url + "/__admin/x402/payments", timeout=10).json()
    return [p for p in shown["payments"] if p["payer"] == payer]


def refused(answer: requests.Response, reason: str, status: int = 402) -> None:
    """A refusal: ``status``, a fresh challenge naming ``reason``, its header its body."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == reason and body["message"], body
    assert len(body["accepts"]) == 3
    assert json.loads(base64.b64decode(answer.headers["PAYMENT-REQUIRED"])) == body


# -- the provider's SDK and handler -------------------------------------------------


@pytest.mark.parametrize("network", ["base", "skale"])
def test_the_sdk_pays_once_then_polls_for_free(gateway: LiveServer, network: str) -> None:
    payer = Payer()
    with AceDataCloud(base_url=gateway.url, payment_handler=payer.handler(network)) as sdk:
        handle = sdk.luma.generate(prompt=PROMPT, wait=True, **FAST)
    assert handle.done and handle.result()["response"]["state"] == "completed"

    calls = entries(gateway, path="/luma/videos", task_id=handle.id)
    assert [c["status"] for c in calls] == [200]
    paid = calls[0]["payment"]
    chain = BASE if network == "base" else SKALE
    assert paid["payer"] == payer.address and paid["network"] == chain
    assert (paid["amount"], paid["outcome"], paid["task_id"]) == ("0.5", "settled", handle.id)
    assert "PAYMENT-RESPONSE" in calls[0]["answer_headers"]
    polls = entries(gateway, path="/luma/tasks")
    mine = [p for p in polls if p.get("task_id") == handle.id]
    assert mine and all(p["status"] == 200 and "payment" not in p for p in mine)
    assert [p["outcome"] for p in payments_of(gateway, payer.address)] == ["settled"]


def test_a_client_with_a_token_only_is_served_as_ever(gateway: LiveServer) -> None:
    answer = gateway.post("/luma/videos", BODY, headers=AUTH)
    assert answer.status_code == 200 and "task_id" in answer.json()
    entry = entries(gateway, task_id=answer.json()["task_id"], path="/luma/videos")[0]
    assert "payment" not in entry and "PAYMENT-REQUIRED" not in answer.headers


def test_the_challenge_offers_base_skale_and_solana_at_the_default_price(
    gateway: LiveServer,
) -> None:
    body = challenge(gateway.url)  # no token, no payment: header == body (checked there)
    assert body["x402Version"] == 2 and body["error"] == "Payment Required"
    networks = [e["network"] for e in body["accepts"]]
    assert networks == [BASE, SKALE, "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"]
    for entry in body["accepts"]:
        assert entry["scheme"] == "exact" and entry["amount"] == "500000"
        assert entry["resource"] == gateway.url + "/luma/videos"
    base, skale, solana = body["accepts"]
    assert base["payTo"] == "0x4F0E2D3477a1B94CF33d16E442CEe4733dadCeE7"
    assert base["extra"]["name"] == "USD Coin" and skale["extra"]["chainId"] == 1187947933
    assert solana["extra"]["rpcUrl"] == gateway.url + "/__x402/solana"
    # A bearer token the fake would refuse is no way around paying.
    answer = requests.post(
        gateway.url + "/luma/videos", json=BODY, headers={"Authorization": "Basic x"}, timeout=10
    )
    assert answer.status_code == 402


def test_polling_needs_no_payment_and_no_token(gateway: LiveServer) -> None:
    payer = Payer()
    made = pay(gateway.url, payer.envelope(offer(gateway.url), now=now(gateway)))
    assert made.status_code == 200, made.text
    task = made.json()["task_id"]
    polled = requests.post(
        gateway.url + "/luma/tasks", json={"id": task, "action": "retrieve"}, timeout=10
    )
    assert polled.status_code == 200 and polled.json()["id"] == task
    assert "PAYMENT-REQUIRED" not in polled.headers


# -- envelopes refused ----------------------------------------------------------------


def test_a_forged_signature_is_refused_with_no_task(gateway: LiveServer) -> None:
    payer, forger = Payer(), Payer()
    envelope = payer.envelope(offer(gateway.url), now=now(gateway), signer=forger.key)
    answer = pay(gateway.url, envelope)
    refused(answer, "invalid_exact_evm_payload_signature")
    assert "task_id" not in answer.json()
    entry = entries(gateway, path="/luma/videos", status=402)[-1]
    assert entry["payment"]["outcome"] == "refused:invalid_exact_evm_payload_signature"
    assert "task_id" not in entry


def test_an_authorization_past_its_window_on_the_fake_clock_is_refused(
    gateway: LiveServer,
) -> None:
    payer, at = Payer(), now(gateway)
    envelope = payer.envelope(offer(gateway.url), now=at, validBefore=int(at) + 60)
    advance(gateway, 60)
    refused(pay(gateway.url, envelope), "invalid_exact_evm_payload_authorization_valid_before")


def test_an_authorization_not_valid_yet_is_refused_until_it_is(gateway: LiveServer) -> None:
    payer, at = Payer(), now(gateway)
    envelope = payer.envelope(offer(gateway.url), now=at, validAfter=int(at) + 30)
    refused(pay(gateway.url, envelope), "invalid_exact_evm_payload_authorization_valid_after")
    advance(gateway, 31)
    assert pay(gateway.url, envelope).status_code == 200  # refused: nothing was held


def test_a_replayed_envelope_is_served_once(gateway: LiveServer) -> None:
    payer = Payer()
    envelope = payer.envelope(offer(gateway.url), now=now(gateway))
    first, again = pay(gateway.url, envelope), pay(gateway.url, envelope)
    assert first.status_code == 200
    refused(again, "duplicate_settlement")
    nonce = envelope["payload"]["authorization"]["nonce"]
    made = [e for e in entries(gateway, path="/luma/videos") if e.get("task_id")]
    assert [e["task_id"] for e in made if e.get("payment", {}).get("nonce") == nonce] == [
        first.json()["task_id"]
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"value": "499999"}, "invalid_exact_evm_payload_authorization_value_mismatch"),
        ({"to": "0x" + "ab" * 20}, "invalid_exact_evm_payload_recipient_mismatch"),
        ({"nonce": "0x1234"}, "invalid_payload"),
    ],
    ids=["underpaid", "misdirected", "short-nonce"],
)
def test_an_authorization_that_does_not_pay_the_offer_is_refused(
    gateway: LiveServer, change: dict[str, str], reason: str
) -> None:
    payer = Payer()
    envelope = payer.envelope(offer(gateway.url), now=now(gateway), **change)
    refused(pay(gateway.url, envelope), reason)
    assert [p["outcome"] for p in payments_of(gateway, payer.address)] in (
        [f"refused:{reason}"],
        [],  # refused before its payer could be read
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"network": "eip155:1"}, "invalid_network"),
        ({"scheme": "upto"}, "invalid_scheme"),
        ({"amount": "1"}, "invalid_payment_requirements"),
        ({"payTo": "0x" + "cd" * 20}, "invalid_payment_requirements"),
    ],
    ids=["network", "scheme", "amount", "pay-to"],
)
def test_an_envelope_accepting_no_offer_made_is_refused(
    gateway: LiveServer, change: dict[str, str], reason: str
) -> None:
    payer, entry = Payer(), offer(gateway.url)
    envelope = payer.envelope({**entry, **change}, now=now(gateway))
    refused(pay(gateway.url, envelope), reason)


@pytest.mark.parametrize(
    ("value", "status", "reason"),
    [
        ("not base64!", 400, "invalid_payload"),
        (base64.b64encode(b"[1, 2]").decode(), 400, "invalid_payload"),
        (base64.b64encode(b'{"x402Version": 1}').decode(), 402, "invalid_x402_version"),
        (base64.b64encode(b'{"x402Version": 2, "accepted": 1}').decode(), 400, "invalid_payload"),
    ],
    ids=["not-base64", "not-an-object", "version-1", "no-accepted"],
)
def test_a_malformed_header_is_a_clear_refusal_never_a_500(
    gateway: LiveServer, value: str, status: int, reason: str
) -> None:
    answer = requests.post(
        gateway.url + "/luma/videos", json=BODY, headers={"PAYMENT-SIGNATURE": value}, timeout=10
    )
    refused(answer, reason, status)


def test_an_evm_signature_that_cannot_be_read_is_refused(gateway: LiveServer) -> None:
    payer = Payer()
    envelope = payer.envelope(offer(gateway.url), now=now(gateway))
    envelope["payload"]["signature"] = "0xzz"
    refused(pay(gateway.url, envelope), "invalid_exact_evm_payload_signature")


def test_a_refusal_past_the_offer_is_logged_on_its_network(gateway: LiveServer) -> None:
    envelope = Payer().envelope(offer(gateway.url, SKALE), now=now(gateway))
    envelope["payload"]["authorization"]["from"] = "0xnot-an-address"
    refused(pay(gateway.url, envelope), "invalid_payload")
    shown = gateway.session.get(gateway.url + "/__admin/x402/payments", timeout=10).json()
    last = shown["payments"][-1]
    assert (last["outcome"], last["network"]) == ("refused:invalid_payload", SKALE), last


# -- funds, scripted refusals, settlement -------------------------------------------------


def test_a_balance_set_through_the_control_api_is_spent_and_enforced(gateway: LiveServer) -> None:
    payer = Payer()
    lowered = payer.address.lower()  # any spelling of the address names the payer
    put = gateway.session.put(
        f"{gateway.url}/__admin/x402/balances/{lowered}", json={"usdc": "0.75"}, timeout=10
    )
    assert put.json() == {"payer": payer.address, "usdc": "0.75"}
    assert pay(gateway.url, payer.envelope(offer(gateway.url), now=now(gateway))).ok
    second = pay(gateway.url, payer.envelope(offer(gateway.url), now=now(gateway)))
    refused(second, "insufficient_funds")
    shown = gateway.session.get(gateway.url + "/__admin/x402/payments", timeout=10).json()
    assert shown["balances"][payer.address] == "0.25"


def test_a_scripted_refusal_refuses_the_next_payments_then_stops(gateway: LiveServer) -> None:
    scripted = gateway.session.post(
        gateway.url + "/__admin/x402/refusals",
        json={"reason": "insufficient_funds", "count": 1},
        timeout=10,
    )
    assert scripted.json() == {"reason": "insufficient_funds", "count": 1}
    payer = Payer()
    envelope = payer.envelope(offer(gateway.url), now=now(gateway))
    sdk = AceDataCloud(base_url=gateway.url, payment_handler=payer.handler())
    with sdk, pytest.raises(APIError) as raised:
        sdk.luma.generate(prompt=PROMPT)
    assert raised.value.status_code == 402 and "insufficient_funds" in str(raised.value)
    assert pay(gateway.url, envelope).status_code == 200  # the script is used up


def test_a_bad_body_costs_nothing_and_the_nonce_stays_usable(gateway: LiveServer) -> None:
    payer = Payer()
    gateway.session.put(
        f"{gateway.url}/__admin/x402/balances/{payer.address}", json={"usdc": "0.5"}, timeout=10
    )
    envelope = payer.envelope(offer(gateway.url), now=now(gateway))
    bad = pay(gateway.url, envelope, body={"prompt": 7})
    assert bad.status_code == 400 and "PAYMENT-RESPONSE" not in bad.headers
    assert pay(gateway.url, envelope).status_code == 200  # same nonce, same 0.5 USDC
    assert [p["outcome"] for p in payments_of(gateway, payer.address)] == ["released", "settled"]
    refused(
        pay(gateway.url, payer.envelope(offer(gateway.url), now=now(gateway))), "insufficient_funds"
    )


def test_a_reset_forgets_payments_balances_and_nonces(gateway: LiveServer) -> None:
    payer = Payer()
    envelope = payer.envelope(offer(gateway.url), now=now(gateway))
    assert pay(gateway.url, envelope).ok
    gateway.session.post(gateway.url + "/__admin/reset", timeout=10)
    assert payments_of(gateway, payer.address) == []
    assert pay(gateway.url, envelope).ok  # its nonce was forgotten with the rest


def test_header_carries_exactly_the_envelope() -> None:
    decoded = json.loads(base64.b64decode(header({"a": 1})["PAYMENT-SIGNATURE"]))
    assert decoded == {"a": 1}


@pytest.mark.parametrize(
    ("method", "path", "body", "words"),
    [
        ("PUT", "/x402/balances/0xabc", {}, "usdc is required"),
        ("PUT", "/x402/balances/0xabc", {"usdc": "lots"}, "usdc is a USDC amount"),
        ("PUT", "/x402/balances/0xabc", {"usdc": "0.0000001"}, "at most 6 decimals"),
        ("PUT", "/x402/balances/0xabc", {"usdc": "1e400"}, "at most 9007199254.740991"),
        ("POST", "/x402/refusals", {"count": 1}, "reason is required"),
        ("POST", "/x402/refusals", {"reason": "x" * 101}, "at most 100 characters"),
        ("POST", "/x402/refusals", {"reason": "no\nnewline"}, "reason is a code"),
        ("POST", "/x402/refusals", {"reason": "insufficient_funds", "count": -1}, "count"),
    ],
)
def test_control_calls_with_bad_values_are_400s_naming_the_field(
    gateway: LiveServer, method: str, path: str, body: dict[str, Any], words: str
) -> None:
    answer = gateway.session.request(method, gateway.url + "/__admin" + path, json=body, timeout=10)
    assert answer.status_code == 400 and words in answer.text, answer.text
