"""A third dialect from outside the packages (tests/toy: its own schemas, examples,
media, fake half and suites' half, registered through the ``luma_mock.dialects``
entry-point group by its dist-info) runs under every command with no line of
``mock_server`` or ``contract_tests`` naming it."""

from __future__ import annotations

import subprocess

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
