"""``luma-mock verify-client --dialect dream-machine``: the official SDK (``lumaai``,
through the built-in adapter) keeps every check but one — it retries a create after a
lost answer without an idempotency key, a billing risk the suite names apart from the
contract's breaks, failing the run by default and not with ``billing_risk="warn"``;
clients broken in one way each are caught by the right check; an adapter without a
method skips its cases; the command's exit codes and ``--billing-risk``."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from contract_tests.checks.client_calls import BillingRisk
from contract_tests.consumer import (
    FAULTS,
    ConsumerReport,
    run_against_real_service,
    run_consumer_suite,
)
from contract_tests.dream_machine.client import CHECKS
from contract_tests.dream_machine.consumer import load_factory

pytest.importorskip("lumaai")

from tests.broken_dm_clients import BROKEN_DM_CLIENTS
from tests.support import TOKEN, live_server

DM = "dream-machine"
CLIENT_TIMEOUT = 4.0  # the SDK's three attempts at a hung answer end within it
LUMAAI = load_factory("lumaai", CLIENT_TIMEOUT)
# Every fault that loses a create's answer: the SDK retries it, blind.
LOST = {"reset", "empty", "truncated", "hang"}


def _suite(factory: Any, only: str | None = None, **more: Any) -> ConsumerReport:
    return run_consumer_suite(
        factory,
        dialect=DM,
        only=(lambda case: only in case.name) if only else None,
        client_timeout=CLIENT_TIMEOUT,
        call_timeout=20,
        **more,
    )


def test_the_official_sdk_keeps_every_check_but_pays_twice_after_a_lost_answer() -> None:
    report = _suite(LUMAAI)

    risky = {r.name for r in report.results if r.risks}
    assert risky == {f"create_video: fault {kind}" for kind in LOST}, report.render()
    # A billing risk, not a break: nothing else failed, and it fails the run by default.
    assert not report.ok
    assert all(isinstance(f, BillingRisk) for f in report.failures), report.render()
    assert report.failed_checks() == {"one-bill-per-call"}
    ran = {name for result in report.results for name in result.ran}
    assert ran == set(CHECKS), set(CHECKS) - ran
    assert all(r.examples >= 1 and not r.skipped for r in report.results)
    # The report shows the calls: the create whose answer was lost, then the retry.
    rendered = report.render()
    assert "billing risk(s) (fail the run)" in rendered
    reset = rendered.split("BILLING RISK one-bill-per-call — create_video: fault reset")[1]
    calls = reset.split("BILLING RISK")[0]
    assert calls.count("-X POST") >= 2 and "the answer was lost (reset)" in calls


def test_a_billing_risk_is_only_reported_when_told_to_warn() -> None:
    report = _suite(LUMAAI, "fault", billing_risk="warn")

    assert report.ok, report.render()
    assert {r.name for r in report.results if r.risks} == {
        f"create_video: fault {kind}" for kind in LOST
    }
    assert "reported, not failed" in report.render()
    assert "BILLING RISK one-bill-per-call — create_video: fault empty" in report.render()


@pytest.mark.parametrize("name", list(BROKEN_DM_CLIENTS))
def test_a_broken_dm_client_fails_the_right_check(name: str) -> None:
    check, only, factory = BROKEN_DM_CLIENTS[name]
    report = _suite(factory, only)
    rendered = report.render()
    assert report.results, f"no case has {only!r} in its name"
    assert check in report.failed_checks(), rendered
    assert "suite" not in report.failed_checks(), rendered
    assert f"FAILED {check}" in rendered and "# the client sent: curl -s -X" in rendered


def test_an_adapter_without_a_method_skips_its_cases() -> None:
    def factory(base_url: str, token: str) -> Any:
        sdk = LUMAAI(base_url, token)
        return SimpleNamespace(get=sdk.get, close=sdk.close)

    report = _suite(factory)
    assert report.ok, report.render()
    played = {r.name for r in report.results if not r.skipped}
    gets = {"get a queued generation", "get a dreaming generation", "get an unknown id: 404"}
    assert played == gets | {f"get: fault {kind}" for kind in FAULTS}
    assert all("has no" in r.skipped for r in report.results if r.skipped)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mock_server.cli", "verify-client", "--dialect", DM,
         "--client-timeout", str(CLIENT_TIMEOUT), *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_cli_exit_codes() -> None:
    ok = _cli("lumaai", "-k", "create a video")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok   create a video" in ok.stdout and "all checks hold" in ok.stdout
    broken = _cli("tests.broken_dm_clients:CreatesTwice", "-k", "create a video")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "FAILED one-bill-per-call" in broken.stdout
    assert _cli("no.such.module:factory").returncode == 2
    assert _cli("lumaai", "--fake-url", "http://127.0.0.1:9").returncode == 2


def test_cli_billing_risk_fails_by_default_and_warns_when_told() -> None:
    risky = _cli("lumaai", "-k", "create_video: fault reset")
    assert risky.returncode == 1, risky.stdout + risky.stderr
    assert "BILLING RISK one-bill-per-call — create_video: fault reset" in risky.stdout
    warned = _cli("lumaai", "-k", "create_video: fault reset", "--billing-risk", "warn")
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert "RISK create_video: fault reset" in warned.stdout


def test_cli_runs_against_a_running_fake(fake_url: str) -> None:
    done = _cli("lumaai", "-k", "get", "--fake-url", fake_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok   get: fault hang" in done.stdout and f"against {fake_url}" in done.stdout


def test_the_real_service_run_rehearsed_on_a_fake_behind_the_proxy() -> None:
    # The same path as against api.lumalabs.ai — the SDK through a capped validating
    # proxy, the checks reading the proxy's records — with a fake as the target.
    with live_server("--delay", "instant", "--token", TOKEN) as fake:
        report = run_against_real_service(
            LUMAAI, TOKEN, dialect=DM, target=fake.url, max_billable=1
        )
        journal = fake.session.get(fake.url + "/__admin/journal", timeout=10).json()["entries"]

    assert report.ok, report.render()
    assert [r.name for r in report.results] == [
        "create a video, then get it",
        "get an unknown id",
        "create with a wrong token",
    ]
    creates = [e["status"] for e in journal if e["method"] == "POST"]
    # The wrong token's create was capped (the cap is 1): it never reached the fake.
    assert creates == [201] and "proxy's billable cap" in " ".join(report.warnings)


def test_a_blind_retry_of_our_own_is_a_billing_risk_and_no_retry_is_none() -> None:
    from tests.broken_dm_clients import RetriesAfterAReset, _NoRetries

    lost = ("reset", "empty", "truncated")  # a hang too, but these clients wait 5 s

    def suite(factory: Any, billing_risk: str = "fail") -> ConsumerReport:
        return run_consumer_suite(
            factory,
            dialect=DM,
            only=lambda case: case.name in {f"create_video: fault {k}" for k in lost},
            client_timeout=CLIENT_TIMEOUT,
            billing_risk=billing_risk,
        )

    blind = suite(RetriesAfterAReset)
    assert {r.name for r in blind.results if r.risks} == {
        f"create_video: fault {kind}" for kind in lost
    }, blind.render()
    assert not blind.ok and all(isinstance(f, BillingRisk) for f in blind.failures)
    risk = blind.risks[0]
    assert risk.actual == "1. the answer was lost (reset); 2. the answer was lost (reset)"
    warned = suite(RetriesAfterAReset, billing_risk="warn")
    assert warned.ok and len(warned.risks) == 3, warned.render()
    # The SDK with its retries off makes one create per call, whatever the fault.
    careful = suite(_NoRetries)
    assert careful.ok and not careful.risks, careful.render()
