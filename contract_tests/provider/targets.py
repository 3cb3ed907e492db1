"""What the provider suite talks to: a `Target` is a `Transport` (one method, `send`)
with the token it takes and what it can do — receive callbacks on this machine's
loopback, take any token by design, answer a control API with its own token.

Two transports: `HttpTransport`, a server over the network with `requests` (the fake
over a socket, someone else's fake, the real ``https://api.acedata.cloud``), and
`WsgiTransport`, a WSGI app called in process so that nothing leaves it
(`Target.in_process` builds the fake that way). They share `BaseTransport`: resolving a
path against the base URL, timing the exchange, and turning what came into an `Answer`.
They sit apart from the runner so the pytest plugin and the consumer suite can reuse a
target without the phases. (Not to be confused with `mock_server.web.transports`, the
fake's own serving side.)
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..checks import Answer

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class Transport(Protocol):
    """One method: send a request (path, or absolute URL) and return the answer. A
    failure to connect is an answer with status 0 whose content says why."""

    base_url: str

    def send(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> Answer: ...


class NoAnswer(Exception):
    """The request got no answer; the message says why (it becomes a status-0 answer)."""


class BaseTransport:
    """The half of a `Transport` every kind shares: `send` resolves a path against
    ``base_url``, times the exchange and turns what came into an `Answer` (header
    names in lower case; status 0 and the reason when there was no answer). A subclass
    says how to reach the server in `open`, and which URLs it cannot reach in `outside`."""

    base_url: str

    def send(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> Answer:
        refused = self.outside(url)
        if refused:
            return Answer(0, {}, f"no answer: {refused}".encode())
        full = url if "://" in url else self.base_url + url
        started = time.perf_counter()
        try:
            status, got, content = self.open(method, full, body, dict(headers or {}), timeout)
        except NoAnswer as bad:
            return Answer(0, {}, f"no answer: {bad}".encode(), time.perf_counter() - started)
        lowered = {k.lower(): v for k, v in got.items()}
        return Answer(status, lowered, content, time.perf_counter() - started)

    def outside(self, url: str) -> str | None:
        """Why this transport cannot send to ``url`` at all, or None."""
        return None

    def open(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send to the absolute ``url``: (status, headers, content); NoAnswer if none."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def rebase(self, prefix: str) -> None:
        """Drop ``prefix`` from the end of ``base_url``: the suites' paths carry it."""
        if prefix and self.base_url.endswith(prefix):
            self.base_url = self.base_url[: -len(prefix)]


class HttpTransport(BaseTransport):
    """A server over the network, with `requests`."""

    def __init__(self, base_url: str) -> None:
        import requests

        self.base_url = base_url.rstrip("/")
        self._session = requests.Session()
        # On loopback a new connection costs ~1 ms, while a kept-alive one can stall 40 ms
        # per request (a server that writes headers and body apart meets delayed ACKs).
        self._request = (
            requests.request if urlsplit(base_url).hostname in LOOPBACK else self._session.request
        )

    def open(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float
    ) -> tuple[int, Mapping[str, str], bytes]:
        import requests

        try:
            r = self._request(method, url, data=body, headers=headers, timeout=(10, timeout))
        except requests.RequestException as bad:
            raise NoAnswer(str(bad)) from bad
        return r.status_code, r.headers, r.content

    def close(self) -> None:
        self._session.close()


class AlternatingTransport(BaseTransport):
    """Several servers that should be one (processes of a fake on one shared store, or
    replicas behind a balancer): each request goes to the next, in turn, so whatever one
    made, another must answer for."""

    def __init__(self, base_urls: list[str]) -> None:
        self.servers = [HttpTransport(url) for url in base_urls]
        self.base_url = self.servers[0].base_url
        self._turn = itertools.cycle(self.servers)
        self._lock = threading.Lock()

    def send(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> Answer:
        with self._lock:
            server = next(self._turn)
        return server.send(method, url, body, headers, timeout)

    def rebase(self, prefix: str) -> None:
        for server in self.servers:
            server.rebase(prefix)
        self.base_url = self.servers[0].base_url

    def close(self) -> None:
        for server in self.servers:
            server.close()


class WsgiTransport(BaseTransport):
    """A WSGI app called in process (werkzeug's test client): nothing leaves the process.
    Absolute URLs are answered only when they start with ``base_url``, the address the app
    believes it serves (the default is where ``luma-mock serve`` listens, so a report's
    curl lines work against it)."""

    def __init__(self, app: Callable[..., Any], base_url: str = "http://127.0.0.1:8000") -> None:
        from werkzeug.test import Client

        self.base_url = base_url.rstrip("/")
        self._client = Client(app)

    def outside(self, url: str) -> str | None:
        if "://" in url and not url.startswith(self.base_url + "/"):
            return f"{url} is outside the in-process target"
        return None

    def open(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float
    ) -> tuple[int, Mapping[str, str], bytes]:
        parts = urlsplit(url)
        r = self._client.open(
            parts.path,
            base_url=self.base_url,
            query_string=parts.query,
            method=method,
            data=body or b"",
            headers=list(headers.items()),
        )
        return r.status_code, r.headers, r.get_data()


@dataclass
class Target:
    """What is verified: a transport, the token it takes, and what it can do.

    ``any_token``: the target accepts any non-empty token by design (the fake without
    ``--token``), so a wrong token is not expected to be refused. ``callbacks``: the
    target can reach a receiver on this machine's loopback.
    """

    transport: Transport
    token: str
    name: str = ""
    control_token: str | None = None
    any_token: bool = False
    callbacks: bool = True
    on_close: Callable[[], None] | None = None
    hint: str = ""  # a line for the report, e.g. how to replay its curl lines

    @classmethod
    def url(cls, base_url: str, token: str, **options: Any) -> Target:
        several = [url.strip() for url in base_url.split(",") if url.strip()]
        host = urlsplit(several[0] if several else base_url).hostname or ""
        options.setdefault("callbacks", host in LOOPBACK)
        if len(several) > 1:  # "URL1,URL2": one fake behind several addresses, in turn
            return cls(AlternatingTransport(several), token, name=base_url, **options)
        return cls(HttpTransport(base_url), token, name=base_url, **options)

    @classmethod
    def wsgi(cls, app: Callable[..., Any], token: str = "verify-token", **options: Any) -> Target:
        transport = WsgiTransport(app, options.pop("base_url", "http://127.0.0.1:8000"))
        return cls(transport, token, name=options.pop("name", "WSGI app in process"), **options)

    @classmethod
    def in_process(cls, token: str = "verify-token", **settings: Any) -> Target:
        """The fake, in this process: a manual clock, 2 s queued and 60 s generating, and
        only ``token`` accepted — so states, time and auth can all be seen. It speaks
        both dialects (the Dream Machine one under ``/dream-machine/v1``), as
        ``luma-mock serve`` does."""
        from mock_server import dream_machine
        from mock_server.acedata import LumaService
        from mock_server.engine.clock import ManualClock
        from mock_server.engine.config import Settings
        from mock_server.engine.delays import DelayModel, Fixed
        from mock_server.web.app import create_app

        values: dict[str, Any] = {
            "clock": "manual",
            "delays": DelayModel(Fixed(2.0), Fixed(60.0), Fixed(60.0)),
            "tokens": (token,),
            "seed": 1,
        }
        values.update(settings)
        luma = LumaService(Settings(**values), clock=ManualClock(1_700_000_000.0))
        luma.sibling(dream_machine.DIALECT)
        target = cls.wsgi(create_app(luma), token, name="the fake, in process")
        target.on_close = luma.close
        target.hint = (
            f"curl lines replay on `luma-mock serve --clock manual --token {token}` "
            f"with LUMA_TOKEN={token}"
        )
        return target

    def under(self, prefix: str) -> Target:
        """The target with its base URL taken as the service's: given as an SDK's
        (``http://host/dream-machine/v1``, a dialect's ``prefix``), the prefix is dropped,
        since every path the suite sends starts with it. A transport without `rebase`
        (one of the plugin's own) is left as it is."""
        rebase = getattr(self.transport, "rebase", None)
        if rebase is not None:
            rebase(prefix)
        return self

    def close(self) -> None:
        closer = getattr(self.transport, "close", None)
        if closer is not None:
            closer()
        if self.on_close is not None:
            self.on_close()
