"""redis-py and hiredis are the extra ``luma-mock[redis]``, needed only by a shared
store: without them the in-memory fake serves as ever, and a shared store is refused at
start with one line that says what to install. Real ``luma-mock serve`` processes, in
which the two libraries cannot be imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mock_server.harness.process import ServedFake, child_environment, serve_command
from tests.support import PROMPT, LiveServer

UNREACHABLE = "redis://127.0.0.1:1/0"  # never reached: the libraries are missing first
INSTALL = "pip install 'luma-mock[redis]'"


@pytest.fixture
def without_redis(tmp_path: Path) -> dict[str, str]:
    """An environment in which ``import redis`` and ``import hiredis`` fail as they do
    where the extra is not installed: modules of those names, first on the path, that
    raise the ImportError a missing module raises."""
    for name in ("redis", "hiredis"):
        (tmp_path / f"{name}.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{name}'\", name={name!r})\n"
        )
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": path}


def test_the_environment_really_hides_redis(without_redis: dict[str, str]) -> None:
    probe = "import redis"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=child_environment(without_redis),
    )
    assert out.returncode != 0 and "No module named 'redis'" in out.stderr


@pytest.mark.parametrize(
    "args",
    [("--store", UNREACHABLE), ("--store", UNREACHABLE, "--workers", "2")],
    ids=["store", "workers"],
)
def test_a_shared_store_without_the_extra_is_refused_in_one_line_naming_it(
    without_redis: dict[str, str], args: tuple[str, ...]
) -> None:
    out = subprocess.run(
        serve_command(*args),
        capture_output=True,
        text=True,
        env=child_environment(without_redis),
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        "luma-mock: a shared store needs redis-py and hiredis (No module named 'hiredis'): "
        + INSTALL
    ]
    assert "listening on" not in out.stdout


def test_the_in_memory_fake_serves_without_redis(without_redis: dict[str, str]) -> None:
    fake = ServedFake.serve("--delay", "instant", env=without_redis)
    try:
        server = LiveServer(fake)
        answer = server.post("/luma/videos", {"prompt": PROMPT, "async": True})
        assert answer.status_code == 200, answer.text
        assert server.session.get(server.url + "/health", timeout=10).status_code == 200
    finally:
        fake.stop()


def test_the_in_memory_fake_imports_no_redis() -> None:
    """Not even where redis is installed (here): the fake, its app and the CLI load it
    only for a shared store."""
    probe = (
        "import sys\n"
        "import mock_server.cli, mock_server.web.server, contract_tests.plugin\n"
        "from mock_server.acedata.service import LumaService\n"
        "from mock_server.engine.config import Settings\n"
        "from mock_server.web.app import create_app\n"
        "luma = LumaService(Settings())\n"
        "create_app(luma).test_client().get('/health')\n"
        "luma.close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('redis', 'hiredis')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
