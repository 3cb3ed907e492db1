"""``luma-mock proxy --dialect dream-machine``: Luma's own SDK (``lumaai``) talks to the
fake through the proxy, every exchange checked against ``schemas/dream-machine/``; an
upstream that answers the wrong shape is flagged; past the billable cap (every create)
the proxy answers 429 ``{"detail"}`` itself and the fake never sees the create. The
upstream is always the fake (or a broken stand-in) on loopback, never the real service."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from contract_tests.consumer.proxy import CAP_HEADER, ValidatingProxy
from contract_tests.contract import check
from tests.support import TOKEN, LiveServer, live_server
from tests.test_proxy import proxy_process, stop, upstream

lumaai = pytest.importorskip("lumaai")

PREFIX = "/dream-machine/v1"
DM = "dream-machine"


@pytest.fixture(scope="module")
def fake() -> Iterator[LiveServer]:
    with live_server("--delay", "instant", "--token", TOKEN) as running:
        yield running


@pytest.fixture
def clean(fake: LiveServer) -> LiveServer:
    fake.session.post(fake.url + "/__admin/reset", timeout=10).raise_for_status()
    return fake


def sdk(url: str) -> Any:
    return lumaai.LumaAI(auth_token=TOKEN, base_url=url + PREFIX, max_retries=0)


def creates(fake: LiveServer) -> list[dict[str, Any]]:
    entries = fake.session.get(fake.url + "/__admin/journal", timeout=10).json()["entries"]
    return [e for e in entries if e.get("method") == "POST" and "/generations/" in e["path"]]


def test_the_sdk_through_the_proxy_every_exchange_checked(clean: LiveServer) -> None:
    lines: list[str] = []
    with ValidatingProxy(clean.url, dialect=DM, echo=lambda x: lines.append(x.line())) as proxy:
        client = sdk(proxy.url)
        made = client.generations.create(model="ray-2", prompt="a lighthouse at dusk")
        client.generations.get(made.id)
        client.generations.image.create(model="photon-1", prompt="a red kite")
        page = client.generations.list(limit=1)
        client.generations.delete(made.id)
        client.ping.check()

    assert page.count == 2 and page.has_more is True
    assert [x.status for x in proxy.exchanges] == [201, 200, 201, 200, 204, 200]
    assert all(x.ok for x in proxy.exchanges), lines
    schemas = [(x.request_verdict.schema, x.answer_verdict.schema) for x in proxy.exchanges]
    assert schemas == [
        ("dream-machine/video-request", "dream-machine/generation"),
        (None, "dream-machine/generation"),
        ("dream-machine/image-request", "dream-machine/generation"),
        (None, "dream-machine/list"),
        (None, "no content"),
        (None, "dream-machine/ping"),
    ]
    assert [x.billable for x in proxy.exchanges] == [True, False, True, False, False, False]
    assert lines[0] == f"POST {PREFIX}/generations/video 201 ok"


def test_a_request_that_breaks_the_contract_is_flagged(clean: LiveServer) -> None:
    with ValidatingProxy(clean.url, dialect=DM) as proxy, pytest.raises(lumaai.BadRequestError):
        sdk(proxy.url).generations.create(model="ray-9", prompt="a lighthouse")  # type: ignore[arg-type]
    (exchange,) = proxy.exchanges
    assert not exchange.request_verdict.ok and exchange.answer_verdict.ok  # 400 {"detail"}
    assert "model" in exchange.line() and "DRIFT request drift" in exchange.line()


def wrong_dm_shapes(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """A Dream Machine stand-in: a Generation with unix created_at; 404s as 410."""
    if environ["REQUEST_METHOD"] == "POST":
        body = {"id": "0b0c0d0e-0000-4000-8000-000000000001", "state": "queued",
                "created_at": 1700000000, "generation_type": "video", "failure_reason": None,
                "assets": None, "model": "ray-2", "request": {}}  # fmt: skip
        start_response("201 Created", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]
    start_response("410 Gone", [("Content-Type", "application/json")])
    return [b'{"detail": "gone"}']


def test_an_answer_of_the_wrong_shape_is_flagged() -> None:
    with upstream(wrong_dm_shapes) as target, ValidatingProxy(target, dialect=DM) as proxy:
        made = requests.post(proxy.url + PREFIX + "/generations/video", timeout=10,
                             json={"model": "ray-2", "prompt": "a kite"})  # fmt: skip
        gone = requests.get(proxy.url + PREFIX + "/generations/x", timeout=10)
    assert made.json()["created_at"] == 1700000000 and gone.status_code == 410  # untouched
    created, missing = proxy.exchanges
    assert created.request_verdict.ok and not created.answer_verdict.ok
    assert "created_at" in created.line() and "(dream-machine/generation)" in created.line()
    assert missing.answer_verdict.problems == ["status 410 has no exception of its own in the SDKs"]
    assert proxy.drifted == [created, missing]


def test_an_unreachable_target_is_answered_502_with_a_detail() -> None:
    with upstream(wrong_dm_shapes) as target:
        pass  # nothing listens there any more
    with ValidatingProxy(target, dialect=DM) as proxy:
        answer = requests.get(proxy.url + PREFIX + "/ping", timeout=10)
    assert answer.status_code == 502 and "did not answer" in answer.json()["detail"]
    assert check("dream-machine/error", answer.json()).ok


def test_over_the_cap_creates_are_answered_429_and_never_forwarded(clean: LiveServer) -> None:
    with ValidatingProxy(clean.url, dialect=DM, max_billable=1) as proxy:
        client = sdk(proxy.url)
        made = client.generations.create(model="ray-2", prompt="a lighthouse at dusk")
        with pytest.raises(lumaai.RateLimitError) as capped:
            client.generations.image.create(model="photon-1", prompt="a red kite")
        old_path = requests.post(proxy.url + PREFIX + "/generations", timeout=10,
                                 json={"model": "ray-2", "prompt": "a kite"})  # fmt: skip
        client.generations.get(made.id)  # reads cost nothing: still forwarded

    assert old_path.status_code == 429  # the create path before SDK 1.12 counts too
    assert capped.value.status_code == 429 and capped.value.response.headers[CAP_HEADER] == "capped"
    assert check("dream-machine/error", capped.value.body).ok
    assert "cap of 1 billable request(s) is reached" in capped.value.body["detail"]
    assert len(creates(clean)) == 1  # only the first create reached the fake
    assert [x.forwarded for x in proxy.exchanges] == [True, False, False, True]


def test_luma_mock_proxy_dialect_dream_machine_prints_and_exits_0(clean: LiveServer) -> None:
    args = ("--dialect", DM, "--target", clean.url, "--max-billable", "0")
    with proxy_process(*args) as (process, url):
        assert sdk(url).ping.check().message == "pong"
        with pytest.raises(lumaai.RateLimitError):
            sdk(url).generations.create(model="ray-2", prompt="a lighthouse at dusk")
        code, lines = stop(process)
    assert code == 0, lines
    assert lines[:2] == [
        f"GET {PREFIX}/ping 200 ok",
        f"POST {PREFIX}/generations/video 429 capped: billable cap of 0 reached; not forwarded",
    ]
    assert creates(clean) == []


def test_without_a_dialect_each_request_is_read_by_its_path_prefix(clean: LiveServer) -> None:
    # One proxy in front of a fake serving both dialects: a Dream Machine create is read
    # by its schemas (and billed, and capped, in its shape), an AceData call by AceData's.
    with ValidatingProxy(clean.url, max_billable=1) as proxy:
        client = sdk(proxy.url)
        client.generations.create(model="ray-2", prompt="a lighthouse at dusk")
        with pytest.raises(lumaai.RateLimitError):
            client.generations.create(model="ray-2", prompt="a second lighthouse")
        capped = requests.post(
            proxy.url + "/luma/videos",
            json={"prompt": "a cat", "async": True},
            headers={"authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        tasks = requests.post(
            proxy.url + "/luma/tasks",
            json={"action": "retrieve", "id": "no-such-task"},
            headers={"authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )

    first, second, videos, retrieve = proxy.exchanges
    assert (first.request_verdict.schema, first.answer_verdict.schema) == (
        "dream-machine/video-request",
        "dream-machine/generation",
    )
    assert not second.forwarded and second.answer == {"detail": second.answer["detail"]}
    assert capped.status_code == 429 and capped.json()["error"]["code"] == "too_many_requests"
    assert not videos.forwarded and videos.request_verdict.schema == "acedata/videos-request"
    assert tasks.status_code == 404 and retrieve.answer_verdict.schema == "acedata/error"
    assert all(x.ok for x in proxy.exchanges), [x.line() for x in proxy.exchanges]
    assert len(creates(clean)) == 1
