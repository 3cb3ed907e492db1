"""The ledger behind ``serve --x402`` (nonces and balances: held on a claim, spent on
settlement, given back on release), in memory and on a shared Redis; two real processes
on one Redis racing one envelope serve it exactly once; ``--x402-balance 0`` refuses
every payer through the provider's SDK; the x402 extra missing is said in two lines."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from acedatacloud import AceDataCloud, APIError

from mock_server.engine.config import Settings
from mock_server.engine.payments import (
    INSUFFICIENT,
    MAX_UNITS,
    NONCE_HELD,
    NONCE_SPENT,
    Claim,
    Ledger,
    LedgerRefusal,
    MemoryLedger,
    usdc_text,
    usdc_units,
)
from mock_server.engine.shared.lane import Lane
from mock_server.engine.shared.payments import RedisLedger
from mock_server.harness.process import child_environment, serve_command
from tests.support import PROMPT, live_server
from tests.x402_support import Payer, offer, pay


def claim(nonce: str = "n1", amount: int = 500_000, payer: str = "0xPayer") -> Claim:
    return Claim(payer, "eip155:8453", "0xUSDC", nonce, amount)


@pytest.fixture(params=["memory", "redis"])
def ledger(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A ledger whose payers start with 1 USDC, in memory or on a (real) Redis."""
    if request.param == "memory":
        yield MemoryLedger(1_000_000)
        return
    url = request.getfixturevalue("redis_url")
    client = redis.Redis.from_url(url)
    lane = Lane(client)
    yield RedisLedger(client, "luma-mock", 1_000_000, lane)
    lane.close()


def refusal(ledger: Ledger, paid: Claim) -> str:
    with pytest.raises(LedgerRefusal) as refused:
        ledger.claim(paid)
    return refused.value.kind


def test_a_claim_holds_the_nonce_and_the_amount_until_released(ledger: Any) -> None:
    ledger.claim(claim("n1"))
    assert ledger.balance("0xPayer") == 500_000
    assert refusal(ledger, claim("n1")) == NONCE_HELD  # the same envelope, twice at once
    ledger.release(claim("n1"))
    assert ledger.balance("0xPayer") == 1_000_000
    ledger.claim(claim("n1"))  # a released nonce is usable again


def test_a_settled_nonce_is_spent_for_good_and_the_balance_stays_lowered(ledger: Any) -> None:
    ledger.claim(claim("n1"))
    ledger.settle(claim("n1"))
    ledger.release(claim("n1"))  # too late: settled payments are never given back
    assert refusal(ledger, claim("n1")) == NONCE_SPENT
    assert ledger.balance("0xPayer") == 500_000
    ledger.claim(claim("n2"))
    assert refusal(ledger, claim("n3")) == INSUFFICIENT
    assert ledger.balance("0xPayer") == 0


def test_nonces_are_each_payers_own_and_balances_can_be_set(ledger: Any) -> None:
    ledger.claim(claim("n1", payer="0xA"))
    ledger.claim(claim("n1", payer="0xB"))  # another payer's nonce of the same value
    ledger.set_balance("0xC", 100)
    assert refusal(ledger, claim("n1", payer="0xC")) == INSUFFICIENT
    ledger.set_balance("0xC", None)  # unlimited
    ledger.claim(claim("n1", amount=10**15, payer="0xC"))
    assert ledger.balance("0xC") is None
    assert ledger.balances() == {"0xA": 500_000, "0xB": 500_000, "0xC": None}


def test_scripted_refusals_count_down_and_a_clear_forgets_everything(ledger: Any) -> None:
    ledger.script_refusals("insufficient_funds", 2)
    taken = [ledger.scripted_refusal() for _ in range(3)]
    assert taken == ["insufficient_funds", "insufficient_funds", None]
    ledger.claim(claim("n1"))
    ledger.log({"nonce": "n1", "outcome": "settled"})
    assert ledger.payments() == [{"nonce": "n1", "outcome": "settled"}]
    ledger.clear()
    assert ledger.payments() == [] and ledger.balances() == {}
    ledger.claim(claim("n1"))


def test_the_largest_balance_counts_exactly_on_every_ledger(ledger: Any) -> None:
    # Redis's Lua counts in doubles: exact up to MAX_UNITS, which usdc_units enforces.
    assert usdc_units(usdc_text(MAX_UNITS)) == MAX_UNITS
    with pytest.raises(ValueError, match=r"usdc is a USDC amount of at most 9007199254\.740991"):
        usdc_units(MAX_UNITS + 1, "usdc")
    ledger.set_balance("0xRich", MAX_UNITS)
    ledger.claim(claim("n1", amount=1, payer="0xRich"))
    assert ledger.balance("0xRich") == MAX_UNITS - 1
    ledger.release(claim("n1", amount=1, payer="0xRich"))
    assert ledger.balance("0xRich") == MAX_UNITS


@pytest.mark.parametrize(
    ("text", "units"), [("0.50", 500_000), ("2", 2_000_000), ("0.000001", 1), (0, 0)]
)
def test_usdc_amounts_are_atomic_units(text: Any, units: int) -> None:
    assert usdc_units(text) == units
    assert usdc_units(usdc_text(units)) == units


@pytest.mark.parametrize(
    "values",
    [
        {"x402_price": "0"},
        {"x402_price": "0.0000001"},
        {"x402_price": "cheap"},
        {"x402_balance": "-1"},
        {"x402_balance": "1e400"},  # past what a shared ledger counts exactly
        {"x402_price": "9007199254.740992"},
        {"x402_prices": {"extend": "free"}},
        {"x402": "maybe"},
    ],
)
def test_bad_x402_settings_are_refused_naming_them(values: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="x402"):
        Settings().with_values(values)


# -- real processes ------------------------------------------------------------------


def race(urls: list[str], envelope: dict[str, Any]) -> list[requests.Response]:
    """``envelope`` sent to every one of ``urls`` at the same moment."""
    start = threading.Barrier(len(urls))
    answers: dict[str, requests.Response] = {}

    def send(url: str) -> None:
        start.wait()
        answers[url] = pay(url, envelope)

    racers = [threading.Thread(target=send, args=(url,)) for url in urls]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(30)
    return list(answers.values())


def test_two_processes_racing_one_envelope_serve_it_once(redis_url: str) -> None:
    # One public URL: processes behind one address make the same offers.
    shared = ("--store", redis_url, "--x402", "--delay", "instant", "--public-url", "http://gw")
    with live_server(*shared) as one, live_server(*shared) as other:
        clock = one.session.get(one.url + "/__admin/clock", timeout=10).json()["now"]
        for _ in range(3):  # each round a fresh envelope
            envelope = Payer().envelope(offer(one.url), now=float(clock))
            answers = race([one.url, other.url], envelope)
            assert sorted(a.status_code for a in answers) == [200, 402], [a.text for a in answers]
            lost = next(a for a in answers if a.status_code == 402).json()["error"]
            assert lost in ("invalid_exact_evm_nonce_already_used", "duplicate_settlement")
            nonce = envelope["payload"]["authorization"]["nonce"]
            shown = one.session.get(one.url + "/__admin/x402/payments", timeout=10).json()
            outcomes = [p["outcome"] for p in shown["payments"] if p["nonce"] == nonce]
            assert outcomes == ["settled"]
            journal = other.session.get(other.url + "/__admin/journal", timeout=10).json()
            made = [
                e
                for e in journal["entries"]
                if e.get("payment", {}).get("nonce") == nonce and e.get("task_id")
            ]
            assert len(made) == 1  # one task, through whichever process won


def test_a_balance_of_zero_refuses_every_payer_through_the_sdk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ACEDATACLOUD_API_TOKEN", raising=False)
    prices = {"LUMA_MOCK_X402_PRICES": '{"extend": "0.75"}'}  # per action, over the price
    args = ("--x402", "--x402-balance", "0", "--x402-price", "0.25")
    with live_server(*args, env=prices) as fake:
        assert "x402: 0.25 USDC a paid call" in fake.banner[1]
        assert offer(fake.url)["amount"] == "250000"
        extend = {"action": "extend", "prompt": PROMPT, "video_id": "a-video"}
        assert offer(fake.url, body=extend)["amount"] == "750000"
        sdk = AceDataCloud(base_url=fake.url, payment_handler=Payer().handler("skale"))
        with sdk, pytest.raises(APIError) as refused:
            sdk.luma.generate(prompt=PROMPT)
        assert refused.value.status_code == 402
        assert "insufficient_funds" in str(refused.value)
        tasks = fake.session.get(fake.url + "/__admin/journal", params={"with_task": "true"})
        assert tasks.json()["count"] == 0


def test_x402_without_the_extra_is_refused_in_two_lines(tmp_path: Path) -> None:
    (tmp_path / "eth_account.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'eth_account'\", name='eth_account')\n"
    )
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH")) if p)
    out = subprocess.run(
        serve_command("--x402"),
        capture_output=True,
        text=True,
        env=child_environment({"PYTHONPATH": path}),
        timeout=60,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2 and "eth_account" in lines[0]
    assert lines[1] == "luma-mock: pip install 'luma-mock[x402]'"
