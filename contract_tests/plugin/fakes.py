"""The fakes the pytest plugin hands to tests: `LumaFake` in process, `LumaServer` over a
real socket. Both serve every registered dialect (each at ``url_for(name)``: ``url``
plus the dialect's path prefix), carry ``token`` and ``headers`` and the same control
names (``advance``, ``complete``, ``fail``, ``wait_for_state``,
``wait_for_callback``, ``scenarios``, ``journal``, ``accounts``, ``set_delays``,
``reset``, ``clock``), so one test body can run against either."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from flask.testing import FlaskClient

from mock_server.engine.clock import Clock
from mock_server.engine.config import Settings
from mock_server.engine.fake import Fake
from mock_server.engine.service import Engine
from mock_server.harness.process import ServedFake
from mock_server.harness.remote import ControlClient, RemoteFake
from mock_server.web.app import create_app

from ..contract.packs import pack, packs

IN_PROCESS_URL = "http://luma-mock.test"  # a reserved name: it never resolves to a real host


def url_for(url: str, dialect: str) -> str:
    """Where the dialect called ``dialect`` is served on the fake at ``url``: what its
    clients take as their base URL (``lumaai.LumaAI(base_url=...)``)."""
    return url + pack(dialect).path_prefix


class _ClientAt(FlaskClient):
    """A test client whose requests carry a base URL, so media URLs come out right."""

    def __init__(self, base_url: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._base_url = base_url

    def open(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("base_url", self._base_url)
        # Buffered: the answer is read and closed at once, as a server would, which is
        # when a manual clock's fake sends the callbacks that fell due during the call.
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


class LumaFake:
    """The fake in this process, speaking every registered dialect. Control calls go
    through its own control API, answered in process, so they return what
    ``luma_server``'s do; ``fake`` is the `Fake` itself, ``engines`` its engines by
    dialect name (one clock, journal, rule book and set of balances)."""

    def __init__(self, fake: Fake, token: str, url: str = IN_PROCESS_URL) -> None:
        self.fake = fake
        self.engines: dict[str, Engine] = dict(fake.engines)
        self.app = create_app(fake)
        self.url = url
        self.token = token
        self.responses: Any = None  # the active responses mock, under luma_responses
        # The control API's own views, answered by the app in process: the same JSON a
        # luma_server test gets over HTTP.
        self.control = ControlClient(self._control_call)

    def _control_call(
        self, method: str, path: str, body: Any, params: dict[str, Any] | None
    ) -> tuple[int, Any]:
        answer = self.app.test_client().open(
            f"/__admin{path}", method=method, json=body, query_string=params
        )
        return answer.status_code, answer.get_json()

    @classmethod
    def start(cls, values: dict[str, Any], *, clock: Clock, token: str) -> LumaFake:
        """A fake with the marker's settings: a manual clock and instant tasks unless
        told otherwise, a fixed seed so ids repeat from run to run."""
        values = {"clock": "manual", "delay": "instant", "seed": 0, **values}
        settings = Settings().with_values(values)
        # Every registered dialect, as `luma-mock serve` serves them; the marker's rules
        # may name any of them.
        dialects = [pack.load_fake() for pack in packs()]
        fake = Fake(dialects, settings, clock=clock if settings.clock == "manual" else None)
        return cls(fake, settings.tokens[0] if settings.tokens else token)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url_for(self, dialect: str) -> str:
        """The base URL of ``dialect``'s API on this fake (`url_for`); with
        ``luma_httpx_transport``, or through the test client."""
        return url_for(self.url, dialect)

    def client(self) -> Any:
        """Flask's test client over the fake's app, as if called at ``url``."""
        return _ClientAt(self.url, self.app, self.app.response_class, use_cookies=False)

    @property
    def clock(self) -> Any:
        return self.fake.clock  # the ManualClock itself: advance() runs due events

    def __getattr__(self, name: str) -> Any:
        return getattr(self.control, name)

    def close(self) -> None:
        self.fake.close()


class LumaServer:
    """A server on a socket: one this session started, or ``--luma-target``'s."""

    def __init__(
        self,
        url: str,
        token: str,
        control: RemoteFake | None,
        max_billable: int | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.control = control
        self.max_billable = max_billable
        self.target = self.url  # the server behind `url` (a proxy's target, or itself)

    @classmethod
    def remote(
        cls, url: str, token: str, max_billable: int | None, via: str | None = None
    ) -> LumaServer:
        """``url``'s server; clients talk to it ``via`` a proxy when given (the plugin puts
        a validating, capping proxy there), its control API is asked directly."""
        control = RemoteFake(url)
        usable = control if control.has_control_api() else None
        server = cls(via or url, token, usable, max_billable)
        server.target = url
        return server

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url_for(self, dialect: str) -> str:
        """The base URL of ``dialect``'s API on this server (`url_for`)."""
        return url_for(self.url, dialect)

    def prepare(self, per_test: dict[str, Any]) -> LumaServer:
        """Reset, then apply this test's marker settings through the control API."""
        control = self.require_control()
        control.reset()
        if "delay" in per_test:
            control.set_delays(per_test["delay"])
        for rule in per_test.get("scenarios", ()):
            control.scenarios.add(rule)
        if "credits" in per_test:
            control.accounts.set_balance(self.token, per_test["credits"])
        if "rate_limit" in per_test:
            control.accounts.set_rate_limit(per_test["rate_limit"])
        return self

    def require_control(self) -> RemoteFake:
        if self.control is None:
            pytest.skip(f"{self.url} has no luma-mock control API")
        return self.control

    def __getattr__(self, name: str) -> Any:
        return getattr(self.require_control(), name)


class RunningServer:
    """``luma-mock serve`` in a child process on a free loopback port, its settings from
    the marker's startup values (as ``LUMA_MOCK_*`` variables)."""

    def __init__(self, startup: dict[str, Any], token: str) -> None:
        env = {f"LUMA_MOCK_{name.upper()}": _env_value(v) for name, v in startup.items()}
        self.fake = ServedFake.serve("--delay", "instant", env=env)
        self.process = self.fake.process
        self.url = self.fake.url
        self.view = LumaServer(self.url, token, RemoteFake(self.url))

    @property
    def output(self) -> list[str]:
        return self.fake.lines

    def prepare(self, per_test: dict[str, Any]) -> LumaServer:
        return self.view.prepare(per_test)

    def stop(self) -> None:
        self.fake.stop(timeout=10)


def _env_value(value: Any) -> str:
    if isinstance(value, dict):  # a table (dialect_callbacks): JSON, as the server reads it
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


class ServerPool:
    """One running server per distinct set of startup settings, for the whole session."""

    def __init__(self, token: str = "luma-test-token") -> None:
        self.token = token
        self._servers: dict[str, RunningServer] = {}
        self._lock = threading.Lock()

    def server(self, startup: dict[str, Any]) -> RunningServer:
        key = json.dumps(startup, sort_keys=True, default=str)
        with self._lock:
            if key not in self._servers:
                tokens = startup.get("tokens") or ()
                token = tokens[0] if tokens else self.token
                self._servers[key] = RunningServer(startup, token)
            return self._servers[key]

    def close(self) -> None:
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.stop()


class ContractSuites:
    """The provider and consumer suites for a test, against the fake or a target."""

    def __init__(self, target: str | None, token: str, max_billable: int | None) -> None:
        self.target = target
        self.token = token
        self.max_billable = max_billable

    def verify(self, **options: Any) -> Any:
        """The provider suite (`contract_tests.provider.verify`) on ``--luma-target`` or
        the fake in process; fails the test with the report unless every check holds."""
        from ..provider import Target, verify
        from ..provider.report import render

        target = Target.url(self.target, self.token) if self.target else Target.in_process()
        options.setdefault("out", None)
        if self.max_billable is not None:
            options.setdefault("max_billable", self.max_billable)
        try:
            result = verify(target, **options)
        finally:
            target.close()
        if not result.ok:
            pytest.fail(render(result, target.name, target.token), pytrace=False)
        return result

    def verify_client(self, factory: Any, **options: Any) -> Any:
        """The consumer suite on the client ``factory(base_url, token)`` adapts: against a
        fake, or — with ``--luma-target`` — the real-service checks through the capped
        validating proxy. Fails the test with the report unless every check holds."""
        from ..consumer import run_against_real_service, run_consumer_suite

        if self.target:
            report = run_against_real_service(
                factory,
                self.token,
                dialect=options.get("dialect"),
                target=self.target,
                max_billable=2 if self.max_billable is None else self.max_billable,
            )
        else:
            report = run_consumer_suite(factory, **options)
        if not report.ok:
            pytest.fail(report.render(), pytrace=False)
        return report
