"""``luma-mock verify-client --dialect dream-machine``: the official SDK (``lumaai``,
through the built-in adapter) keeps every check; clients broken in one way each are
caught by the right check; an adapter without a method skips its cases; the command's
exit codes."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from contract_tests.checks.dm_client import DM_CLIENT_CHECKS
from contract_tests.consumer.dm_adapters import LumaaiAdapter
from contract_tests.consumer.dm_suite import DmConsumerReport, run_dm_consumer_suite

pytest.importorskip("lumaai")

from tests.broken_dm_clients import BROKEN_DM_CLIENTS


def _suite(factory: Any, only: str | None = None) -> DmConsumerReport:
    return run_dm_consumer_suite(
        factory, only=(lambda case: only in case.name) if only else None, call_timeout=20
    )


def test_the_official_sdk_keeps_every_check() -> None:
    report = _suite(LumaaiAdapter)
    assert report.ok, report.render()
    ran = {name for result in report.results for name in result.ran}
    assert ran == set(DM_CLIENT_CHECKS), set(DM_CLIENT_CHECKS) - ran
    assert all(r.examples >= 1 and not r.skipped for r in report.results)


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
        sdk = LumaaiAdapter(base_url, token)
        return SimpleNamespace(get=sdk.get, close=sdk.close)

    report = _suite(factory)
    assert report.ok, report.render()
    played = {r.name for r in report.results if not r.skipped}
    assert played == {"get a queued generation", "get a dreaming generation",
                      "get an unknown id: 404"}  # fmt: skip
    assert all("has no" in r.skipped for r in report.results if r.skipped)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mock_server.cli", "verify-client", "--dialect", "dream-machine",
         *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_cli_exit_codes() -> None:
    ok = _cli("lumaai", "-k", "create a video")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok   create a video" in ok.stdout and "all checks hold" in ok.stdout
    broken = _cli("tests.broken_dm_clients:CreatesTwice", "-k", "create a video")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "FAILED dm-one-bill-per-create" in broken.stdout
    assert _cli("no.such.module:factory").returncode == 2
    assert _cli("lumaai", "--fake-url", "http://127.0.0.1:9").returncode == 2
