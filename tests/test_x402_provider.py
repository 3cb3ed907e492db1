"""verify --x402: a gateway's 402 contract checked without paying — it holds on the fake
with ``x402`` on, and each gateway broken in one way fails the check that names it — and
a paid run, only with a key and a cap, that never signs past the cap."""

from __future__ import annotations

import argparse
import io

import pytest

from contract_tests.payments import Payer, atomic
from contract_tests.provider import Target, Verification, verify
from contract_tests.provider.gateway import Gateway
from contract_tests.provider.report import add_verify_arguments, render, run_verify
from tests.broken_gateways import BROKEN, TOKEN, gateway
from tests.support import AUTH, live_server

CHEAP = {"profile": "ci", "max_examples": 2, "out": None, "max_billable": 0, "stateful": False}
GATEWAY_CHECKS = {"x402-challenge", "x402-header-equals-body", "x402-free-polls"}


def _run(target: Target, x402: Gateway) -> Verification:
    try:
        return verify(target, x402=x402, **CHEAP)  # type: ignore[arg-type]
    finally:
        target.close()


def test_the_fake_as_a_gateway_keeps_the_402_contract() -> None:
    target = gateway()
    result = _run(target, Gateway())

    assert result.ok, render(result, target.transport.base_url, target.token)
    assert set(result.runs) >= GATEWAY_CHECKS
    assert "x402-paid-served" not in result.runs  # nothing paid without a key and a cap
    assert any("a paid run needs --x402-key and --max-spend" in n for n in result.notes)


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_gateway_fails_the_check_that_names_it(name: str) -> None:
    check, rewrite = BROKEN[name]
    target = gateway(rewrite)
    result = _run(target, Gateway())

    assert check in {f.check for f in result.failures}, render(result, "", TOKEN)
    failure = next(f for f in result.failures if f.check == check)
    assert failure.expected and failure.actual


def test_a_paid_run_pays_and_never_signs_past_the_cap() -> None:
    target = gateway(x402_price="0.40")
    payer = Payer.fresh()
    paid = Gateway(payer.key, atomic("1.00"))  # room for two payments of 0.40, not three
    try:
        result = verify(target, x402=paid, **CHEAP)  # type: ignore[arg-type]
        seen = target.transport.send("GET", "/__admin/x402/payments").json()
    finally:
        target.close()

    assert result.ok, render(result, target.transport.base_url, target.token)
    assert result.runs["x402-paid-served"] == 2
    signer = paid.signer()
    assert len(signer.signed) == 2 and signer.spent() == atomic("0.80") <= atomic("1.00")
    payments = seen["payments"] if isinstance(seen, dict) else seen
    assert [p["outcome"] for p in payments] == ["settled", "settled"]
    assert {p["payer"] for p in payments} == {payer.address}
    note = next(n for n in result.notes if n.startswith("x402:"))
    assert "0.8 of --max-spend 1 USDC" in note and "would pass --max-spend" in note


def _verify_cli(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    add_verify_arguments(parser)
    err = io.StringIO()
    return run_verify(parser.parse_args(argv), out=io.StringIO(), err=err), err.getvalue()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--x402", "--x402-key", "0x" + "11" * 32], "needs both --x402-key and --max-spend"),
        (["--x402", "--max-spend", "1"], "needs both --x402-key and --max-spend"),
        (["--x402-key", "0x" + "11" * 32, "--max-spend", "1"], "go with --x402"),
        (["--x402", "--x402-key", "0x12", "--max-spend", "1"], "not an EVM private key"),
        (["--x402", "--x402-key", "0x" + "11" * 32, "--max-spend", "1.0000001"], "--max-spend: "),
    ],
)
def test_a_paid_run_is_opt_in_with_a_key_and_a_cap(argv: list[str], words: str) -> None:
    code, said = _verify_cli(*argv)
    assert code == 2 and words in said, said


def test_the_gateway_refuses_a_deeply_nested_body_instead_of_dying() -> None:
    # eth-account's py_ecc raises the recursion limit to 100000 as it loads; with that
    # limit this body overflowed the C stack and killed `serve --x402` (no answer at all).
    with live_server("--delay", "instant", "--x402") as server:
        deep = "[" * 90_000 + "]" * 90_000
        answer = server.post("/luma/videos", headers={**AUTH, "content-type": "application/json"},
                             data=deep)  # fmt: skip
        assert answer.status_code == 400 and "nested too deeply" in answer.text, answer.text
        assert server.process.poll() is None
