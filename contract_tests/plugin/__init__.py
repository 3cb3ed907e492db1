"""The pytest plugin: the fake and the contract suites as fixtures.

Registered through the ``pytest11`` entry point (``contract_tests.plugin``: this
package). It imports nothing heavy until a test asks for one of its fixtures, so a
session that uses none of them pays nothing: at module level only the standard
library and pytest; the fakes it hands out (`fakes`), the suites, the profiles and the
fake (`mock_server`) inside the fixtures that need them. It is the top layer of
`contract_tests`: it may import any of it, and nothing of it imports the plugin.

Fixtures: ``luma_fake`` (the fake in process), ``luma_clock`` (its manual clock),
``luma_responses`` (``requests`` answered in process), ``luma_httpx_transport`` and
``luma_httpx_async_transport`` (httpx transports answered in process), ``luma_server``
(a real server on a loopback port, one per session and configuration, reset before each
test), ``luma_callback_receiver``, ``luma_payer`` (a throwaway x402 payer: its key, a
``payment_handler`` for the provider's SDK, headers for a raw client). Every fake serves
every registered dialect, each at
``url_for(name)`` (``url`` plus the dialect's path prefix: what its SDK takes as its
base URL).
The marker ``@pytest.mark.luma(...)`` configures one test's fake; the options
``--luma-target``, ``--luma-token`` and ``--luma-max-billable`` point ``luma_server`` (and
the contract suites) at another server or the real service, and ``--luma-store`` runs
``luma_server``'s fakes on a shared store (a Redis URL).
``luma_cassette`` replays the test's recorded cassette (``cassettes/<module>/<test>.jsonl``
beside the test file), or records it through the recording proxy, per
``--luma-record-mode`` (``none``, ``once``, ``new``, ``all``) and
``@pytest.mark.luma_cassette(...)``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

TOKEN = "luma-test-token"
TARGET_ENV = "LUMA_MOCK_TARGET"
TARGET_TOKEN_ENV = "LUMA_MOCK_TARGET_TOKEN"

# Marker keys a running server takes through its control API, test by test ...
PER_TEST_KEYS = ("delay", "scenarios", "credits", "rate_limit")
# ... and keys it can only take when it starts (one server per distinct set of them).
STARTUP_KEYS = (
    "clock",
    "tokens",
    "seed",
    "public_url",
    "callback_retries",
    "callback_backoff",
    "callback_timeout",
    "callback_allow",
    "max_tasks",
    "default_timeout",
    "video_cost",
    "dialect_callbacks",
    "store",  # memory, or a Redis URL: the fake on a shared store (`--luma-store`)
    # The pay-per-call gateway (x402=True), its price(s) and each payer's starting balance.
    "x402",
    "x402_price",
    "x402_prices",
    "x402_balance",
)
STORE_ENV = "LUMA_MOCK_STORE"
RECORD_MODE_ENV = "LUMA_MOCK_RECORD_MODE"
# The record modes (contract_tests.consumer.record_modes.MODES; not imported here: the
# plugin loads nothing heavy until a fixture asks).
RECORD_MODES = ("none", "once", "new", "all")
# The keys of @pytest.mark.luma_cassette(...), and what each says.
CASSETTE_KEYS = {
    "path": "the cassette, relative to the test file (default cassettes/<module>/<test>.jsonl); "
    "also the marker's one positional argument",
    "mode": "the record mode, when --luma-record-mode is not given",
    "dialect": "whose API: its real service and token variables for a recording (default: "
    "the one served at the root)",
    "target": "where a recording goes (default --luma-target, else the dialect's real service)",
    "speed": "a replay's --speed (2: recorded times halved)",
    "clock": "a replay's --clock: real, or manual (moved by POST /__admin/clock/advance)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("luma", "luma-mock")
    group.addoption(
        "--luma-target",
        default=os.environ.get(TARGET_ENV),
        help=f"base URL of another server (or the real API) for luma_server and the "
        f"contract suites; default: the fake ({TARGET_ENV})",
    )
    group.addoption(
        "--luma-store",
        default=os.environ.get(STORE_ENV),
        help=f"run luma_server's fakes on this shared store, a Redis URL whose database "
        f"the session may empty ({STORE_ENV}; the marker's store key wins)",
    )
    group.addoption(
        "--luma-token",
        default=os.environ.get(TARGET_TOKEN_ENV),
        help=f"bearer token for --luma-target ({TARGET_TOKEN_ENV})",
    )
    group.addoption(
        "--luma-max-billable",
        type=int,
        default=None,
        help="most generate/extend requests a run may send to --luma-target",
    )
    group.addoption(
        "--luma-record-mode",
        choices=RECORD_MODES,
        default=os.environ.get(RECORD_MODE_ENV) or None,
        help=f"luma_cassette's record mode: none (replay only; the default when CI is set), "
        f"once (record a missing cassette; the default otherwise), new (replay, and record "
        f"what is not in the cassette), all (record, replacing it) ({RECORD_MODE_ENV}; "
        f"over the marker's mode)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "luma(**settings): configure this test's fake — delay, clock, scenarios, tokens, "
        "credits, rate_limit, seed, callback_retries, x402 (the pay-per-call gateway), …",
    )
    config.addinivalue_line(
        "markers",
        "luma_cassette(path=None, *, mode, dialect, target, speed, clock): the test's "
        "cassette for luma_cassette — where it is, its record mode, whose API, where a "
        "recording goes, how a replay plays",
    )
    # Hypothesis' own plugin loads --hypothesis-profile in its pytest_configure: ours must
    # exist by then, but only cost an import of Hypothesis when one of them is asked for.
    wanted = config.getoption("hypothesis_profile", None) or ""
    if str(wanted).startswith("luma-") or "hypothesis" in sys.modules:
        _register_profiles()


def pytest_collection_finish(session: pytest.Session) -> None:
    if "hypothesis" in sys.modules:  # a test module imported it: make ours available
        _register_profiles()


def _register_profiles() -> None:
    from ..contract import profiles

    profiles.register(prefix="luma-")


def luma_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The test's ``@pytest.mark.luma(...)`` values; the marker closest to the test wins."""
    values: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("luma"))):
        if marker.args:
            raise pytest.UsageError("@pytest.mark.luma takes keyword arguments only")
        values.update(marker.kwargs)
    return values


# -- in process ------------------------------------------------------------------------


@pytest.fixture
def luma_clock() -> Any:
    """The manual clock of this test's in-process fake (it moves only when told)."""
    from mock_server.engine.clock import ManualClock

    return ManualClock()


@pytest.fixture
def luma_fake(request: pytest.FixtureRequest, luma_clock: Any) -> Iterator[Any]:
    """The fake in this process, with the same control names as ``luma_server``."""
    from .fakes import LumaFake

    fake = LumaFake.start(luma_settings(request), clock=luma_clock, token=TOKEN)
    yield fake
    fake.close()


@pytest.fixture
def luma_responses(luma_fake: Any) -> Iterator[Any]:
    """``requests`` calls to the fake's URL (and every dialect's own base URLs, where its
    clients send requests by default) answered in process through ``responses``; other
    URLs pass through. Yields the fake."""
    from mock_server.web.transports import responses_mock

    defaults = (url for e in luma_fake.engines.values() for url in e.dialect.base_urls)
    bases = (luma_fake.url, *defaults)
    with responses_mock(luma_fake.app, bases) as mock:
        luma_fake.responses = mock
        yield luma_fake


@pytest.fixture
def luma_httpx_transport(luma_fake: Any) -> Any:
    """An httpx transport answered by the in-process fake, whatever the URL's host; use
    with ``httpx.Client(transport=luma_httpx_transport, base_url=luma_fake.url)``, or
    give ``lumaai.LumaAI(base_url=luma_fake.url_for("dream-machine"),
    http_client=httpx.Client(transport=luma_httpx_transport))``."""
    pytest.importorskip("httpx")
    from mock_server.web.transports import httpx_transport

    return httpx_transport(luma_fake.app)


@pytest.fixture
def luma_httpx_async_transport(luma_fake: Any) -> Any:
    """The same for ``httpx.AsyncClient``."""
    pytest.importorskip("httpx")
    from mock_server.web.transports import async_httpx_transport

    return async_httpx_transport(luma_fake.app)


@pytest.fixture
def luma_callback_receiver() -> Iterator[Any]:
    """A real HTTP server on loopback that records callbacks and waits for them."""
    from mock_server.harness.receiver import CallbackReceiver

    with CallbackReceiver() as receiver:
        yield receiver


@pytest.fixture
def luma_payer() -> Any:
    """A throwaway x402 payer (`contract_tests.payments.Payer`, a fresh EVM key that holds
    nothing anywhere) for a fake that plays the gateway (``@pytest.mark.luma(x402=True)``):
    ``key``, ``address``, ``handler()`` — the provider's SDK's ``payment_handler`` —
    ``headers(response_or_challenge)`` for a raw client's paid retry, ``signed`` (every
    envelope it made), ``on("skale")`` (the same key on another network)."""
    pytest.importorskip("eth_account", reason="luma_payer needs luma-mock[x402]")
    from ..payments import Payer

    return Payer.fresh()


# -- over a socket ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def luma_server_pool(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Running fakes of this session (of this xdist worker), one per startup settings."""
    from .fakes import ServerPool

    pool = ServerPool()
    yield pool
    pool.close()


@pytest.fixture
def luma_server(
    request: pytest.FixtureRequest, luma_server_pool: Any, luma_target_server: Any
) -> Any:
    """A fake on a real loopback socket — started once per session (and per distinct
    startup settings), reset before each test — or, with ``--luma-target``, that server."""
    if luma_target_server is not None:
        return luma_target_server
    values = luma_settings(request)
    unknown = set(values) - set(PER_TEST_KEYS) - set(STARTUP_KEYS)
    if unknown:
        raise pytest.UsageError(f"unknown @pytest.mark.luma setting(s): {sorted(unknown)}")
    startup = {k: v for k, v in values.items() if k in STARTUP_KEYS}
    store = request.config.getoption("luma_store")
    if store and "store" not in startup:
        startup["store"] = store
    per_test = {k: v for k, v in values.items() if k in PER_TEST_KEYS}
    return luma_server_pool.server(startup).prepare(per_test)


# -- record and replay ------------------------------------------------------------------


@pytest.fixture
def luma_cassette(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The test's cassette as a base URL (``url``, ``url_for(dialect)``, ``token``,
    ``headers``): replayed, or recorded through the recording proxy, per the record mode.
    Teardown fails on a request the cassette has no recording of, on a recorded create
    the test never made, and on a secret the recording left on disk."""
    from ..consumer.record_modes import default_mode
    from .cassettes import close_cassette, open_cassette

    cassette = open_cassette(request, default_mode())
    yield cassette
    close_cassette(cassette)


# -- the contract suites -----------------------------------------------------------------


@pytest.fixture(scope="session")
def luma_target_proxy(request: pytest.FixtureRequest) -> Iterator[Any]:
    """With ``--luma-target``: a validating proxy in front of it for the whole session,
    so users' own tests through ``luma_server`` are checked against the contract and kept
    under ``--luma-max-billable`` too. None when running against the fake."""
    config = request.config
    target = config.getoption("luma_target")
    if not target:
        yield None
        return
    from ..consumer.proxy import ValidatingProxy

    with ValidatingProxy(target, max_billable=config.getoption("luma_max_billable")) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def luma_target_server(request: pytest.FixtureRequest, luma_target_proxy: Any) -> Iterator[Any]:
    """With ``--luma-target``: the view ``luma_server`` gives of it, made once a session
    (its control API is probed once); clients reach it through the proxy."""
    if luma_target_proxy is None:
        yield None
        return
    from .fakes import LumaServer

    config = request.config
    server = LumaServer.remote(
        config.getoption("luma_target"),
        token=config.getoption("luma_token") or "",
        max_billable=config.getoption("luma_max_billable"),
        via=luma_target_proxy.url,
    )
    yield server
    if server.control is not None:
        server.control.close()


@pytest.fixture
def luma_contract(request: pytest.FixtureRequest) -> Any:
    """The contract suites as a fixture: ``luma_contract.verify()`` runs the provider
    suite, ``luma_contract.verify_client(factory)`` the consumer suite — against the fake,
    or ``--luma-target`` — and fails the test with the suite's report."""
    from .fakes import ContractSuites

    config = request.config
    return ContractSuites(
        target=config.getoption("luma_target"),
        token=config.getoption("luma_token") or "",
        max_billable=config.getoption("luma_max_billable"),
    )
