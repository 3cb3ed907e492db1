"""The Luma Dream Machine dialect end to end: Luma's own SDK (``lumaai``), unchanged,
against ``luma-mock serve`` (both dialects in one process), under ``/dream-machine/v1``
and at the root; and the same calls in process through Flask's test client."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from contract_tests import contract
from mock_server.acedata import LumaService
from mock_server.dream_machine import DIALECT
from mock_server.engine.clock import ManualClock
from mock_server.engine.config import Settings
from mock_server.engine.delays import DelayModel, Fixed
from mock_server.web.app import create_app
from tests.media_probe import video_size
from tests.support import AUTH, TOKEN, LiveServer, live_server

lumaai = pytest.importorskip("lumaai")

PREFIX = "/dream-machine/v1"


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    # A manual clock and 10 s generations: the test moves time through the control API.
    with live_server("--clock", "manual", "--delay", "10", "--token", TOKEN) as running:
        yield running


def _advance(server: LiveServer, seconds: float) -> None:
    answer = requests.post(server.url + "/__admin/clock/advance", json={"seconds": seconds})
    assert answer.status_code == 200, answer.text


def _advance_once_held(server: LiveServer, path: str, seconds: float) -> threading.Thread:
    """Move the clock, from another thread, once a call to ``path`` is held with its
    generation made (the journal says so); never before, or the call would wait forever."""

    def run() -> None:
        held = {"path": path, "answered": False, "with_task": True, "timeout": 20}
        waited = requests.post(server.url + "/__admin/journal/wait", json=held, timeout=25)
        assert waited.status_code == 200, waited.text
        _advance(server, seconds)

    mover = threading.Thread(target=run, daemon=True)
    mover.start()
    return mover


def _client(server: LiveServer, prefix: str, token: str = TOKEN) -> Any:
    return lumaai.LumaAI(auth_token=token, base_url=server.url + prefix, max_retries=0)


def _valid(name: str, payload: Any) -> None:
    verdict = contract.check(f"dream-machine/{name}", payload)
    assert verdict.ok, verdict.message


# -- the SDK over a socket ------------------------------------------------------------


@pytest.mark.parametrize("prefix", [PREFIX, ""])
def test_sdk_video_lifecycle_on_the_fakes_clock(server: LiveServer, prefix: str) -> None:
    client = _client(server, prefix)
    created = client.generations.create(
        model="ray-2", prompt="a tiger walking in snow", aspect_ratio="9:16", resolution="720p"
    )
    assert created.state in ("queued", "dreaming")
    assert created.created_at is not None and created.model == "ray-2"
    _valid("generation", created.model_dump(mode="json"))

    _advance(server, 30)  # past the 10 s generation
    done = client.generations.get(created.id)
    assert done.state == "completed"
    assert done.assets is not None and done.assets.video
    raw = requests.get(server.url + f"{prefix}/generations/{created.id}", headers=AUTH).json()
    _valid("generation", raw)
    assert raw["created_at"].endswith("Z")

    # The MP4 is real, and its size follows resolution and ratio: 720p 9:16 is 720x1280.
    video = requests.get(done.assets.video, timeout=30)
    assert video.headers["Content-Type"] == "video/mp4"
    assert video_size(video.content) == (720, 1280)

    page = client.generations.list(limit=10, offset=0)
    assert page.generations[0].id == created.id  # newest first
    raw_page = requests.get(server.url + f"{prefix}/generations", headers=AUTH).json()
    _valid("list", raw_page)

    client.generations.delete(created.id)
    with pytest.raises(lumaai.NotFoundError) as missing:
        client.generations.get(created.id)
    assert missing.value.body == {"detail": "Generation not found"}


def test_sdk_video_create_path_and_old_path(server: LiveServer) -> None:
    client = _client(server, PREFIX)
    new = client.generations.video.create(model="ray-flash-2", prompt="waves at dusk")
    old = requests.post(
        server.url + PREFIX + "/generations",
        json={"model": "ray-2", "prompt": "waves at dusk"},
        headers=AUTH,
    )
    assert old.status_code == 201
    assert new.id != old.json()["id"]


def test_sdk_image_with_sync_waits_on_the_fakes_clock(server: LiveServer) -> None:
    client = _client(server, PREFIX)
    # Held until done: the clock moves while the call waits (another thread moves it).
    mover = _advance_once_held(server, f"{PREFIX}/generations/image", 30)
    image = client.generations.image.create(
        model="photon-1", prompt="a teddy bear in sunglasses", format="png", sync=True
    )
    mover.join(10)
    assert image.state == "completed"
    assert image.assets is not None and image.assets.image.endswith(".png")
    png = requests.get(image.assets.image, timeout=30)
    assert png.headers["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")


def test_sdk_sync_image_past_its_timeout_answers_as_it_stands(server: LiveServer) -> None:
    client = _client(server, "")
    # past sync_timeout, not the 10 s
    mover = _advance_once_held(server, "/generations/image", 5)
    image = client.generations.image.create(
        model="photon-flash-1", prompt="a red kite", sync=True, sync_timeout=2
    )
    mover.join(10)
    assert image.state == "dreaming"


def test_sdk_ping_credits_and_concepts(server: LiveServer) -> None:
    for prefix in (PREFIX, ""):
        client = _client(server, prefix)
        assert client.ping.check().message == "pong"
        assert client.credits.get().credit_balance > 0
        assert "dolly_zoom" in client.generations.concepts.list()


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"prompt": "ab"}, "Prompt is too short, minimum length is 3 characters"),
        ({"prompt": "x" * 5001}, "Prompt is too long, maximum length is 5000 characters"),
        ({}, "Prompt is required"),
        (
            {
                "prompt": "a loop",
                "loop": True,
                "keyframes": {"frame1": {"type": "image", "url": "https://example.com/a.jpg"}},
            },
            "Loop is not supported for end frame",
        ),
    ],
)
def test_sdk_validation_errors(server: LiveServer, fields: dict[str, Any], detail: str) -> None:
    client = _client(server, PREFIX)
    with pytest.raises(lumaai.BadRequestError) as refused:
        client.generations.create(model="ray-2", **fields)
    assert refused.value.status_code == 400
    assert refused.value.body == {"detail": detail}


def test_sdk_wrong_token(server: LiveServer) -> None:
    with pytest.raises(lumaai.AuthenticationError) as refused:
        _client(server, PREFIX, token="not-this-one").ping.check()
    assert refused.value.body == {"detail": "Invalid API key is provided"}


def test_acedata_still_served_beside_it(server: LiveServer) -> None:
    answer = server.post("/luma/videos", {"prompt": "x", "async": True})
    assert answer.status_code == 200 and "task_id" in answer.json()
    refused = server.post("/luma/videos", {})
    assert refused.json()["error"]["code"] == "bad_request"


def test_each_dialect_serves_its_own_openapi_document(server: LiveServer) -> None:
    from openapi_spec_validator import validate

    own = server.session.get(server.url + "/dream-machine/v1/openapi.json", timeout=10)
    assert own.status_code == 200 and own.headers["Content-Type"] == "application/json"
    document = own.json()
    validate(document)
    assert document == json.loads(json.dumps(DIALECT.openapi()))
    assert any(path.endswith("/generations/{id}") for path in document["paths"])
    acedata = server.session.get(server.url + "/openapi.json", timeout=10).json()
    assert "/luma/videos" in acedata["paths"] and "/luma/videos" not in document["paths"]


def test_luma_mock_openapi_prints_either_dialects_document() -> None:
    def printed(*args: str) -> Any:
        run = [sys.executable, "-m", "mock_server.cli", "openapi", *args]
        return json.loads(subprocess.run(run, check=True, capture_output=True, text=True).stdout)

    assert printed("--dialect", "dream-machine") == json.loads(json.dumps(DIALECT.openapi()))
    assert "/luma/videos" in printed("--dialect", "acedata")["paths"]


# -- in process, through Flask's test client --------------------------------------------


@pytest.fixture
def fake() -> Iterator[tuple[Any, ManualClock, LumaService]]:
    clock = ManualClock(1_700_000_000.0)
    settings = Settings(delays=DelayModel(Fixed(2.0), Fixed(60.0), Fixed(60.0)), seed=7)
    luma = LumaService(settings, clock=clock)
    luma.fake.add(DIALECT)
    yield create_app(luma).test_client(), clock, luma
    luma.close()


def test_states_follow_the_clock(fake: tuple[Any, ManualClock, LumaService]) -> None:
    client, clock, _ = fake
    created = client.post(
        "/generations/video", json={"model": "ray-2", "prompt": "a tiger"}, headers=AUTH
    )
    assert created.status_code == 201
    generation = created.get_json()
    assert generation["state"] == "queued"
    assert generation["created_at"] == "2023-11-14T22:13:20.000Z"
    path = f"/generations/{generation['id']}"
    clock.advance(2)
    assert client.get(path, headers=AUTH).get_json()["state"] == "dreaming"
    clock.advance(60)
    done = client.get(path, headers=AUTH).get_json()
    assert done["state"] == "completed"
    _valid("generation", done)
    video = client.get(done["assets"]["video"].removeprefix("http://localhost"))
    assert video.status_code == 200 and video_size(video.data) == (1280, 720)  # 720p 16:9


def test_resolution_picks_the_pixel_size(fake: tuple[Any, ManualClock, LumaService]) -> None:
    client, clock, _ = fake
    created = client.post(
        PREFIX + "/generations/video",
        json={"model": "ray-2", "prompt": "a tiger", "resolution": "540p", "aspect_ratio": "1:1"},
        headers=AUTH,
    ).get_json()
    clock.advance(62)
    done = client.get(f"/generations/{created['id']}", headers=AUTH).get_json()
    video = client.get(done["assets"]["video"].removeprefix("http://localhost"))
    assert video_size(video.data) == (540, 540)


def test_failed_generation_says_why(fake: tuple[Any, ManualClock, LumaService]) -> None:
    client, _, luma = fake
    created = client.post(
        "/generations/image", json={"model": "photon-1", "prompt": "a cat"}, headers=AUTH
    ).get_json()
    luma.fake.engines["dream-machine"].fail(created["id"])
    failed = client.get(f"/generations/{created['id']}", headers=AUTH).get_json()
    assert failed["state"] == "failed" and failed["failure_reason"] == "Prompt processing failed"
    assert failed["assets"] is None
    _valid("generation", failed)


def test_list_pages_newest_first(fake: tuple[Any, ManualClock, LumaService]) -> None:
    client, _, _ = fake
    ids = [
        client.post(
            "/generations/video", json={"model": "ray-2", "prompt": f"shot {n}"}, headers=AUTH
        ).get_json()["id"]
        for n in range(3)
    ]
    page = client.get("/generations?limit=2&offset=1", headers=AUTH).get_json()
    assert [g["id"] for g in page["generations"]] == [ids[1], ids[0]]
    assert (page["count"], page["has_more"], page["limit"], page["offset"]) == (3, False, 2, 1)
    first = client.get("/generations?limit=1", headers=AUTH).get_json()
    assert first["has_more"] is True and first["generations"][0]["id"] == ids[2]
    # Another token sees none of them.
    other = client.get("/generations", headers={"Authorization": "Bearer other"}).get_json()
    assert other["count"] == 0
    bad = client.get("/generations?limit=-1", headers=AUTH)
    assert bad.status_code == 400 and "limit" in bad.get_json()["detail"]


def test_delete_then_404(fake: tuple[Any, ManualClock, LumaService]) -> None:
    client, clock, _ = fake
    gid = client.post(
        "/generations/video", json={"model": "ray-2", "prompt": "a tiger"}, headers=AUTH
    ).get_json()["id"]
    deleted = client.delete(f"{PREFIX}/generations/{gid}", headers=AUTH)
    assert deleted.status_code == 204 and deleted.data == b""
    assert client.get(f"/generations/{gid}", headers=AUTH).status_code == 404
    assert client.delete(f"/generations/{gid}", headers=AUTH).status_code == 404
    clock.advance(100)  # its planned end finds it gone
    assert client.get(f"/generations/{gid}", headers=AUTH).status_code == 404


def test_errors_are_detail_bodies(fake: tuple[Any, ManualClock, LumaService]) -> None:
    client, _, _ = fake
    cases = [
        (client.get("/ping"), 401, "Invalid API key is provided"),
        (client.get("/generations/nope", headers=AUTH), 404, "Generation not found"),
        (
            client.post("/generations/video", json={"prompt": "a tiger"}, headers=AUTH),
            400,
            "model is required",
        ),
        (
            client.post(
                "/generations/video",
                json={"model": "ray-2", "prompt": "a tiger", "resolution": "8k"},
                headers=AUTH,
            ),
            400,
            "Resolution 8k is not supported",
        ),
        (client.put("/generations/video", headers=AUTH), 405, "PUT is not allowed"),
    ]
    for answer, status, detail in cases:
        assert answer.status_code == status, answer.get_json()
        _valid("error", answer.get_json())
        assert detail in answer.get_json()["detail"]


def test_the_sdk_paths_in_order(fake: tuple[Any, ManualClock, LumaService]) -> None:
    client, _, _ = fake
    # concepts/list is a list, not a generation called "concepts".
    assert "static" in client.get("/generations/concepts/list", headers=AUTH).get_json()
    assert "Static" in client.get("/generations/camera_motion/list", headers=AUTH).get_json()
    assert client.get(PREFIX + "/ping", headers=AUTH).get_json() == {"message": "pong"}


def test_one_journal_one_clock(fake: tuple[Any, ManualClock, LumaService]) -> None:
    client, clock, luma = fake
    client.post("/generations/video", json={"model": "ray-2", "prompt": "a tiger"}, headers=AUTH)
    client.post("/luma/videos", json={"prompt": "a tiger", "async": True}, headers=AUTH)
    paths = [entry.path for entry in luma.journal.entries()]
    assert paths == ["/generations/video", "/luma/videos"]
    dm = luma.fake.engines["dream-machine"]
    assert dm.clock is clock and dm.journal is luma.journal
    luma.reset()
    assert len(dm.store) == 0


def test_rate_limit_and_scenario_errors_are_detail_bodies() -> None:
    settings = Settings(delays=DelayModel(Fixed(2.0), Fixed(60.0), Fixed(60.0)), rate_limit="2/60")
    luma = LumaService(settings, clock=ManualClock(1_700_000_000.0))
    dream_machine = luma.fake.add(DIALECT)
    client = create_app(luma).test_client()
    try:
        dream_machine.scenarios.add(
            {"match": {"endpoint": "create_video"}, "then": {"reject": "api_error"}}
        )
        body = {"model": "ray-2", "prompt": "a tiger"}
        broken = client.post("/generations/video", json=body, headers=AUTH)
        assert broken.status_code == 500
        assert broken.get_json() == {"detail": "Internal server error"}
        assert client.get("/ping", headers=AUTH).status_code == 200
        limited = client.get("/ping", headers=AUTH)  # the third call in the minute
        assert limited.status_code == 429
        assert set(limited.get_json()) == {"detail"}
    finally:
        luma.close()


def test_control_api_reaches_its_generations(server: LiveServer) -> None:
    gid = _client(server, PREFIX).generations.create(model="ray-2", prompt="a slow sunrise").id
    view = requests.post(server.url + f"/__admin/tasks/{gid}/complete").json()
    assert view["record"]["state"] == "completed" and view["record"]["id"] == gid
    failed_id = _client(server, "").generations.create(model="ray-2", prompt="a storm").id
    failed = requests.post(server.url + f"/__admin/tasks/{failed_id}/fail", json={}).json()
    assert failed["record"]["state"] == "failed"
    assert _client(server, "").generations.get(failed_id).failure_reason
