"""The fake reports itself: Prometheus metrics at /__admin/metrics (scraped and parsed
with the Prometheus client's own parser) and the gauges /health adds."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from mock_server.acedata import LumaService
from mock_server.dream_machine import DIALECT as DREAM_MACHINE
from mock_server.harness.receiver import CallbackReceiver
from mock_server.web.app import create_app
from tests.hardening_support import http_request, port_of
from tests.support import AUTH, PROMPT, InThread, live_server, manual_service

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(text: str) -> Samples:
    """Every sample by name and labels (sorted), as the Prometheus parser reads them."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def luma() -> Iterator[LumaService]:
    service = manual_service()
    service.fake.add(DREAM_MACHINE)
    yield service
    service.close()


@pytest.fixture
def client(luma: LumaService) -> FlaskClient:
    return create_app(luma).test_client()


def metrics_of(client: FlaskClient) -> Samples:
    answer = client.get("/__admin/metrics")
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain; version=")
    return scrape(answer.get_data(as_text=True))


def test_requests_are_counted_by_dialect_route_and_status(client: FlaskClient) -> None:
    for _ in range(3):
        body = {"prompt": PROMPT, "async": True}
        assert client.post("/luma/videos", json=body, headers=AUTH).status_code == 200
    assert client.post("/luma/videos", json={}, headers=AUTH).status_code == 400
    assert client.post("/luma/tasks", json={"id": "nope"}, headers=AUTH).status_code == 404
    unknown = client.get("/dream-machine/v1/generations/abc", headers=AUTH)
    assert unknown.status_code == 404
    assert client.get("/no/such/path").status_code == 404
    assert client.get("/health").status_code == 200

    samples = metrics_of(client)
    total = "luma_mock_requests_total"
    assert value(samples, total, dialect="acedata", route="/luma/videos", status="200") == 3
    assert value(samples, total, dialect="acedata", route="/luma/videos", status="400") == 1
    assert value(samples, total, dialect="acedata", route="/luma/tasks", status="404") == 1
    # A templated route is labelled by its template, never by the id in the path.
    dm_route = "/dream-machine/v1/generations/{id}"
    assert value(samples, total, dialect="dream-machine", route=dm_route, status="404") == 1
    assert value(samples, total, dialect="-", route="other", status="404") == 1
    assert value(samples, total, dialect="-", route="/health", status="200") == 1
    assert not any("abc" in str(labels) for _, labels in samples)


def test_tasks_by_state_held_calls_and_callbacks_by_outcome(
    luma: LumaService, client: FlaskClient
) -> None:
    with CallbackReceiver() as receiver:
        receiver.answer(500)  # the first attempt fails, the retry is delivered
        body = {"prompt": PROMPT, "callback_url": receiver.url}
        task_id = client.post("/luma/videos", json=body, headers=AUTH).get_json()["task_id"]
        client.post("/luma/videos", json={"prompt": PROMPT, "async": True}, headers=AUTH)
        samples = metrics_of(client)
        assert value(samples, "luma_mock_tasks", state="pending") == 2
        assert value(samples, "luma_mock_held_calls") == 0

        luma.advance(62)  # both end; the callback's first attempt fails
        samples = metrics_of(client)
        assert value(samples, "luma_mock_tasks", state="completed") == 2
        outcome = "luma_mock_callback_attempts_total"
        assert value(samples, outcome, dialect="acedata", outcome="retrying") == 1
        assert value(samples, "luma_mock_callbacks_under_way", dialect="acedata") == 1

        luma.advance(5)  # the retry
        receiver.wait_for(task_id)
        samples = metrics_of(client)
        assert value(samples, outcome, dialect="acedata", outcome="delivered") == 1
        assert value(samples, "luma_mock_callbacks_under_way", dialect="acedata") == 0


def test_a_held_call_shows_on_health_and_in_the_metrics() -> None:
    with live_server("--delay", "30") as server:
        held = InThread(
            requests.post,
            server.url + "/luma/videos",
            json={"prompt": PROMPT, "timeout": 0.5},
            headers=AUTH,
            timeout=30,
        )
        seen = wait_for_health(server.url, lambda h: h["held_calls"] == 1)
        assert seen["connections"] >= 1 and seen["max_connections"] == 10_000
        samples = scrape(requests.get(server.url + "/__admin/metrics", timeout=10).text)
        assert value(samples, "luma_mock_held_calls") == 1
        running = [value(samples, "luma_mock_tasks", state=s) for s in ("pending", "processing")]
        assert sum(running) == 1
        assert held.join(10).status_code == 504  # its own timeout, then nothing is held
        assert wait_for_health(server.url, lambda h: h["held_calls"] == 0)["held_calls"] == 0


def test_open_connections_are_a_gauge_that_falls_when_they_close() -> None:
    with live_server() as server:
        baseline = value(scrape_url(server.url), "luma_mock_open_connections")
        socks = [socket.create_connection(("127.0.0.1", port_of(server))) for _ in range(5)]
        for sock in socks:  # answered: each is open and counted now
            sock.sendall(http_request("GET", "/health", close=False))
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert value(scrape_url(server.url), "luma_mock_open_connections") == baseline + 5
        for sock in socks:
            sock.close()
        health = wait_for_health(server.url, lambda h: h["connections"] <= baseline + 1)
        assert health["connections"] <= baseline + 1  # this scrape's own, at most


def scrape_url(url: str) -> Samples:
    with requests.Session() as session:  # its own connection, closed after
        return scrape(session.get(url + "/__admin/metrics", timeout=10).text)


def wait_for_health(url: str, condition: object, timeout: float = 10.0) -> dict[str, object]:
    """Polls /health until ``condition`` holds (the gauges have nothing to wait on)."""
    deadline = time.monotonic() + timeout
    while True:
        with requests.Session() as session:
            health = session.get(url + "/health", timeout=10).json()
        if condition(health) or time.monotonic() > deadline:  # type: ignore[operator]
            return health
        time.sleep(0.05)


def test_on_a_shared_store_round_trips_are_counted_and_tasks_kept(redis_url: str) -> None:
    with live_server("--store", redis_url, "--delay", "instant") as server:
        for _ in range(3):
            server.post("/luma/videos", {"prompt": PROMPT, "async": True})
        samples = scrape_url(server.url)
    trips = value(samples, "luma_mock_store_round_trips_total")
    assert trips >= 3 * 2  # each create: at least the task and its journal entry
    assert value(samples, "luma_mock_store_errors_total") == 0
    assert value(samples, "luma_mock_tasks", state="kept") == 3
