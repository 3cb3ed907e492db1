"""``luma-mock verify`` against two processes of one fake on a shared store, the provider
suite alternating between them request by request: it passes; against two processes
that each keep their own memory, it fails (what one made, the other has never seen)."""

from __future__ import annotations

import subprocess
import sys

from tests.support import live_server

TOKEN = "shared-verify-token"


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mock_server.cli", "verify", "--max-examples", "3", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def test_verify_passes_against_two_processes_on_one_store(redis_url: str) -> None:
    served = ("--store", redis_url, "--token", TOKEN)
    with live_server(*served) as a, live_server(*served) as b:
        passed = verify("--target", f"{a.url},{b.url}", "--token", TOKEN, "--max-billable", "6")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "all checks hold" in passed.stdout


def test_verify_fails_against_two_processes_each_with_its_own_memory() -> None:
    with live_server("--token", TOKEN) as a, live_server("--token", TOKEN) as b:
        failed = verify("--target", f"{a.url},{b.url}", "--token", TOKEN, "--max-billable", "6")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "not_found" in failed.stdout or "404" in failed.stdout
