"""Helpers for the project's own tests: the fake in process, and as a real process."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from mock_server.acedata.service import LumaService
from mock_server.engine.config import Settings
from mock_server.engine.delays import PRESETS
from mock_server.harness.process import ServedFake

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROMPT = "Astronauts shuttle from space to volcano"


def manual_service(**settings: Any) -> LumaService:
    """A fake on a manual clock (start 1,700,000,000) with fixed delays: 2 s queued,
    60 s generating, unless told otherwise."""
    from mock_server.engine.clock import ManualClock
    from mock_server.engine.delays import DelayModel, Fixed

    values: dict[str, Any] = {
        "delays": DelayModel(Fixed(2.0), Fixed(60.0), Fixed(60.0)),
        "clock": "manual",
        "seed": 7,
    }
    values.update(settings)
    return LumaService(Settings(**values), clock=ManualClock(1_700_000_000.0))


def instant_service(**settings: Any) -> LumaService:
    values: dict[str, Any] = {"delays": PRESETS["instant"], "seed": 7}
    values.update(settings)
    return LumaService(Settings(**values))


class InThread:
    """Run a blocking call on another thread and collect its result or exception."""

    def __init__(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, args, kwargs), daemon=True)
        self._thread.start()

    def _run(self, fn: Any, args: Any, kwargs: Any) -> None:
        try:
            self.result = fn(*args, **kwargs)
        except BaseException as error:
            self.error = error

    def join(self, timeout: float = 10.0) -> Any:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("the call did not return")
        if self.error is not None:
            raise self.error
        return self.result

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()


class LiveServer:
    """``luma-mock serve`` as a real process on a free loopback port (a `ServedFake`),
    with a session to talk to it."""

    def __init__(self, fake: ServedFake) -> None:
        self.fake = fake
        self.process = fake.process
        self.url = fake.url
        self.banner = fake.banner
        self.session = requests.Session()

    @property
    def output(self) -> list[str]:
        """What it printed after the banner, line by line."""
        return self.fake.log.splitlines(keepends=True)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("headers", AUTH)
        kwargs.setdefault("timeout", 30)
        return self.session.post(self.url + path, json=body, **kwargs)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> str:
        """Signal the server, wait for it to exit (`subprocess.TimeoutExpired` if it
        does not), and return everything it printed after the banner."""
        self.fake.stop(sig, timeout, on_timeout="raise")
        self.session.close()
        return self.fake.log


@contextmanager
def serving(fake: ServedFake) -> Iterator[LiveServer]:
    """``fake`` as a `LiveServer`, killed at the end unless a test stopped it."""
    server = LiveServer(fake)
    try:
        yield server
    finally:
        fake.stop(signal.SIGKILL, timeout=10)
        server.session.close()


@contextmanager
def live_server(*args: str, env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    with serving(ServedFake.serve(*args, env=env)) as server:
        yield server


def refs(node: Any) -> list[str]:
    """Every ``$ref`` in a JSON document, depth first."""
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []
