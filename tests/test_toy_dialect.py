"""A third dialect from outside the packages (tests/toy: its own schemas, examples,
media, fake half and suites' half, registered through the ``luma_mock.dialects``
entry-point group by its dist-info) runs under every command with no line of
``mock_server`` or ``contract_tests`` naming it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.support import live_server
from tests.toy_support import LUMA_MOCK, toy_env


def _verify(url: str, *more: str) -> subprocess.CompletedProcess[str]:
    command = [LUMA_MOCK, "verify", "--dialect", "toy", "--target", url, "--token", "t", *more]
    return subprocess.run(command, env=toy_env(), capture_output=True, text=True, timeout=300)


def test_verify_checks_the_toy_dialect_on_a_fake_with_delays() -> None:
    with live_server("--port", "0", "--delay", "0.2", "--token", "t", env=toy_env()) as server:
        # The SDK-style base URL (its prefix included) is the same target.
        done = _verify(server.url + "/toy/v1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "toy-callback" in done.stdout and "all checks hold" in done.stdout


def test_verify_catches_a_toy_server_that_takes_any_token() -> None:
    # Served without --token, the fake takes any token: the toy's auth checks must say so.
    with live_server("--port", "0", "--clock", "manual", env=toy_env()) as server:
        done = _verify(server.url)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "[auth-required]" in done.stdout


def _verify_client(factory: str, *more: str) -> subprocess.CompletedProcess[str]:
    command = [LUMA_MOCK, "verify-client", "--dialect", "toy", factory, *more]
    return subprocess.run(command, env=toy_env(), capture_output=True, text=True, timeout=600)


def test_verify_client_plays_every_case_and_fault_on_the_toy_dialect() -> None:
    done = _verify_client("toy")  # the toy pack's built-in adapter
    assert done.returncode == 0, done.stdout + done.stderr
    for fault in ("reset", "empty", "malformed_json", "truncated", "dribble", "hang"):
        assert f"ok   create: fault {fault}" in done.stdout
    assert "all checks hold" in done.stdout


def test_verify_client_names_a_blind_retry_of_a_toy_client_a_billing_risk() -> None:
    done = _verify_client("broken_toy_clients:retries_blindly", "-k", "fault reset")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BILLING RISK one-bill-per-call" in done.stdout
    warned = _verify_client(
        "broken_toy_clients:retries_blindly", "-k", "fault reset", "--billing-risk", "warn"
    )
    assert warned.returncode == 0, warned.stdout + warned.stderr


def test_verify_client_catches_a_toy_client_that_returns_an_error_as_a_job() -> None:
    done = _verify_client("broken_toy_clients:swallows_errors", "-k", "unknown id")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "raises-on-error" in done.stdout


def test_the_proxy_reads_toy_traffic_by_its_path_prefix() -> None:
    with live_server("--port", "0", "--clock", "manual", "--token", "t", env=toy_env()) as fake:
        command = [LUMA_MOCK, "proxy", "--port", "0", "--target", fake.url]
        proxy = subprocess.Popen(
            command, env=toy_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proxy.stdout is not None
        try:
            url = proxy.stdout.readline().split()[3]
            auth = {"authorization": "Bearer t"}
            made = requests.post(f"{url}/toy/v1/jobs", json={"prompt": "a"}, headers=auth)
            assert made.status_code == 201
            refused = requests.post(f"{url}/toy/v1/jobs", json={"prompt": ""}, headers=auth)
            assert refused.status_code == 400 and "oops" in refused.json()
        finally:
            proxy.send_signal(signal.SIGTERM)
            out, _ = proxy.communicate(timeout=15)
    lines = out.splitlines()
    assert lines[0] == "POST /toy/v1/jobs 201 ok"
    assert lines[1].startswith("POST /toy/v1/jobs 400 DRIFT request drift (toy/job-request)")
    assert proxy.returncode == 1


PLUGIN_TEST = """
import pytest
import requests


@pytest.mark.luma(delay=90)
def test_a_toy_job_ends_on_the_fake_clock(luma_fake, luma_clock):
    client = luma_fake.client()
    base = luma_fake.url_for("toy").removeprefix(luma_fake.url)
    made = client.post(base + "/jobs", json={"prompt": "a"}, headers=luma_fake.headers)
    assert made.status_code == 201 and made.get_json()["status"] != "done"
    luma_clock.advance(90)
    done = client.get(base + "/jobs/" + made.get_json()["id"], headers=luma_fake.headers)
    assert done.get_json()["status"] == "done"
    assert luma_fake.engines["toy"].dialect.name == "toy"


@pytest.mark.luma(scenarios=[{"match": {"dialect": "toy"}, "then": {"reject": "api_error"}}])
def test_a_marker_rule_names_the_toy_dialect(luma_server):
    answer = requests.post(luma_server.url_for("toy") + "/jobs", json={"prompt": "a"},
                           headers=luma_server.headers, timeout=10)
    assert answer.status_code == 500 and answer.json() == {"oops": "the toy broke"}


def test_the_provider_suite_in_process_on_the_toy_dialect(luma_contract):
    luma_contract.verify(dialect="toy")
"""


def test_the_pytest_plugin_serves_and_verifies_the_toy_dialect(tmp_path: Path) -> None:
    (tmp_path / "test_toy_user.py").write_text(PLUGIN_TEST)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    done = subprocess.run(
        command, env=toy_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout
