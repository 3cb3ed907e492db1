"""Dream Machine callbacks: the Generation POSTed to ``callback_url`` when it starts
dreaming and when it completes or fails, retried 3 times 100 ms apart on the fake's
clock; a refused target is a 400 ``{"detail"}``."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from contract_tests import contract
from mock_server.acedata import LumaService
from mock_server.dream_machine import DIALECT
from mock_server.engine.clock import ManualClock
from mock_server.engine.config import Settings
from mock_server.engine.delays import DelayModel, Fixed
from mock_server.engine.service import Engine
from mock_server.harness.receiver import CallbackReceiver
from mock_server.web.app import create_app
from tests.support import AUTH


@pytest.fixture
def fake() -> Iterator[tuple[Any, LumaService, Engine, CallbackReceiver]]:
    settings = Settings(delays=DelayModel(Fixed(2.0), Fixed(60.0), Fixed(60.0)), seed=7)
    luma = LumaService(settings, clock=ManualClock(1_700_000_000.0))
    dream_machine = luma.fake.add(DIALECT)
    with CallbackReceiver() as receiver:
        yield create_app(luma).test_client(), luma, dream_machine, receiver
    luma.close()


def _create(client: Any, url: str, path: str = "/generations/video") -> str:
    body = {"model": "ray-2", "prompt": "a tiger", "callback_url": url}
    if path.endswith("image"):
        body["model"] = "photon-1"
    answer = client.post(path, json=body, headers=AUTH)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


def test_dreaming_then_completed(fake: tuple[Any, LumaService, Engine, CallbackReceiver]) -> None:
    client, luma, _, receiver = fake
    generation_id = _create(client, receiver.url)
    luma.advance(2)  # leaves the queue
    first = receiver.wait_count(1)[0].body
    assert (first["id"], first["state"]) == (generation_id, "dreaming")
    luma.advance(60)
    second = receiver.wait_count(2)[1].body
    assert second["state"] == "completed" and second["assets"]["video"].endswith(".mp4")
    for body in (first, second):
        assert contract.check("dream-machine/generation", body).ok


def test_failed_is_sent(fake: tuple[Any, LumaService, Engine, CallbackReceiver]) -> None:
    client, luma, dream_machine, receiver = fake
    generation_id = _create(client, receiver.url, "/generations/image")
    dream_machine.fail(generation_id)  # still queued: no dreaming callback comes
    luma.advance(0)
    body = receiver.wait_count(1)[0].body
    assert body["state"] == "failed" and body["failure_reason"]
    luma.advance(100)
    assert len(receiver.received) == 1


def test_retried_three_times_100_ms_apart(
    fake: tuple[Any, LumaService, Engine, CallbackReceiver],
) -> None:
    client, luma, dream_machine, receiver = fake
    receiver.answer(500, 500, 500, 500)
    generation_id = _create(client, receiver.url)
    dream_machine.complete(generation_id)
    for _ in range(4):
        luma.advance(0.1)
    delivery = dream_machine.wait_for_callback(generation_id)
    assert delivery.state == "failed"
    times = [attempt.at for attempt in delivery.attempts]
    assert len(times) == 4
    assert [round(b - a, 6) for a, b in itertools.pairwise(times)] == [0.1, 0.1, 0.1]


def test_a_refused_target_is_a_400(fake: tuple[Any, LumaService, Engine, CallbackReceiver]) -> None:
    client, _, _, _ = fake
    answer = client.post(
        "/generations/video",
        json={"model": "ray-2", "prompt": "a tiger", "callback_url": "http://169.254.169.254/x"},
        headers=AUTH,
    )
    assert answer.status_code == 400
    assert answer.get_json()["detail"].startswith("callback_url: ")


def test_each_new_operation_calls_back_like_a_create(
    fake: tuple[Any, LumaService, Engine, CallbackReceiver],
) -> None:
    client, luma, _, receiver = fake
    source = _create(client, receiver.url)
    luma.advance(62)
    receiver.wait_count(2)  # the source's own dreaming and completed
    media = {"url": f"http://localhost/dream-machine/media/{source}.mp4"}
    calls = {
        f"/generations/{source}/upscale": {"resolution": "1080p"},
        f"/dream-machine/v1/generations/{source}/audio": {"prompt": "rain"},
        "/generations/image/reframe": {
            "generation_type": "reframe_image", "model": "photon-1", "aspect_ratio": "1:1",
            "media": {"url": "https://example.com/a.jpg"},
        },
        "/generations/video/reframe": {
            "generation_type": "reframe_video", "model": "ray-2", "aspect_ratio": "9:16",
            "media": media,
        },
        "/generations/video/modify": {
            "generation_type": "modify_video", "model": "ray-2", "mode": "adhere_2",
            "media": media,
        },
    }  # fmt: skip
    made = []
    for path, body in calls.items():
        answer = client.post(path, json={**body, "callback_url": receiver.url}, headers=AUTH)
        assert answer.status_code in (200, 201), answer.get_json()
        made.append(answer.get_json()["id"])
    luma.advance(2)
    dreaming = receiver.wait_count(2 + len(made))[2:]
    assert sorted(b.body["id"] for b in dreaming) == sorted(made)
    assert {b.body["state"] for b in dreaming} == {"dreaming"}
    luma.advance(60)
    completed = receiver.wait_count(2 + 2 * len(made))[2 + len(made) :]
    assert {b.body["state"] for b in completed} == {"completed"}
    for delivery in completed:
        assert contract.check("dream-machine/generation", delivery.body).ok
