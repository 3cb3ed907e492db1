"""Luma's Python SDK (``lumaai``), unchanged, through every one of its 13 methods against
the Dream Machine dialect — over a socket (``luma-mock serve``) and in process (an httpx
transport over ``create_app`` with both engines) alike — with its exceptions for each
status and its retries on 429 and 500, counted in the fake's journal.

Every test takes the ``dm`` fixture, one `Target` per way in; the clock is manual and
moved through the control API, the same in both."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from contract_tests import contract
from mock_server.acedata import LumaService
from mock_server.dream_machine import DIALECT
from mock_server.engine.clock import ManualClock
from mock_server.engine.config import Settings
from mock_server.engine.delays import DelayModel, Fixed
from mock_server.engine.service import Engine
from mock_server.web.app import create_app
from mock_server.web.transports import httpx_transport
from tests.media_probe import has_audio, jpeg_size, video_size
from tests.support import TOKEN, live_server

lumaai = pytest.importorskip("lumaai")

PREFIX = "/dream-machine/v1"
OTHER = "dm-sdk-other-token"
TOKENS = (TOKEN, OTHER, *(f"dm-sdk-token-{n}" for n in range(12)))
_fresh = itertools.count()


@dataclass
class Target:
    """One fake and the way in to it: ``url`` is what the SDK is pointed at (without the
    prefix), ``http`` an httpx client that reaches it the same way (control API, media)."""

    way: str
    url: str
    http: httpx.Client
    engine: Engine | None = None  # in process: the Dream Machine engine (scenario rules)

    def client(self, token: str = TOKEN, prefix: str = PREFIX, **options: Any) -> Any:
        options.setdefault("max_retries", 0)
        transport = {"http_client": self.http} if self.way == "in-process" else {}
        return lumaai.LumaAI(auth_token=token, base_url=self.url + prefix, **options, **transport)

    def admin(self, path: str, body: Any = None) -> Any:
        answer = self.http.post(f"{self.url}/__admin{path}", json=body if body is not None else {})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def advance(self, seconds: float) -> None:
        self.admin("/clock/advance", {"seconds": seconds})

    def requests_to(self, path: str) -> list[dict[str, Any]]:
        answer = self.http.get(f"{self.url}/__admin/journal", params={"path": path})
        return [e for e in answer.json()["entries"] if e["kind"] == "request"]

    def fetch(self, url: str) -> httpx.Response:
        return self.http.get(url)


def fresh_token() -> str:
    """A token no other test has used (balances and rate limits are per token)."""
    return TOKENS[2 + next(_fresh) % (len(TOKENS) - 2)]


@contextlib.contextmanager
def in_process() -> Iterator[Target]:
    settings = Settings(
        delays=DelayModel(Fixed(2.0), Fixed(10.0), Fixed(10.0)), seed=11, tokens=TOKENS
    )
    luma = LumaService(settings, clock=ManualClock(1_700_000_000.0))
    engine = luma.fake.add(DIALECT)
    app = create_app(luma)
    try:
        with httpx.Client(transport=httpx_transport(app), timeout=30) as http:
            yield Target("in-process", "https://api.lumalabs.ai", http, engine)
    finally:
        luma.close()


@pytest.fixture(scope="module", params=["socket", "in-process"])
def dm(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "socket":
        tokens = [arg for token in TOKENS for arg in ("--token", token)]
        with (
            live_server("--clock", "manual", "--delay", "10", *tokens) as server,
            httpx.Client(timeout=30) as http,
        ):
            yield Target("socket", server.url, http)
    else:
        with in_process() as target:
            yield target


@pytest.fixture(scope="module")
def local() -> Iterator[Target]:
    """In process only: for scenario rules of this dialect (the control API's rules reach
    the AceDataCloud engine only, for now)."""
    with in_process() as target:
        yield target


def _valid(name: str, payload: Any) -> None:
    verdict = contract.check(f"dream-machine/{name}", payload)
    assert verdict.ok, verdict.message


def _completed_video(dm: Target, **fields: Any) -> Any:
    client = dm.client()
    created = client.generations.video.create(model="ray-2", prompt="a fox in the snow", **fields)
    dm.advance(30)
    done = client.generations.get(created.id)
    assert done.state == "completed"
    return done


# -- every method ------------------------------------------------------------------------


def test_create_get_list_delete(dm: Target) -> None:
    client = dm.client()
    first = client.generations.create(model="ray-2", prompt="a tiger walking in snow")
    second = client.generations.video.create(model="ray-flash-2", prompt="waves at dusk")
    image = client.generations.image.create(model="photon-1", prompt="a teddy bear")
    assert first.state in ("queued", "dreaming")  # the socket's fake has no queue time
    assert (first.generation_type, image.generation_type) == ("video", "image")
    dm.advance(30)
    assert client.generations.get(first.id).state == "completed"
    raw = client.generations.with_raw_response.list(limit=3, offset=0)
    _valid("list", raw.http_response.json())  # the answer as sent, before the SDK's parse
    assert [g.id for g in raw.parse().generations] == [image.id, second.id, first.id]
    assert client.generations.delete(first.id) is None
    with pytest.raises(lumaai.NotFoundError):
        client.generations.get(first.id)


def test_concepts_ping_credits(dm: Target) -> None:
    client = dm.client(prefix="")  # the root as well as the prefix
    assert "dolly_zoom" in client.generations.concepts.list()
    assert client.ping.check().message == "pong"
    token = fresh_token()
    dm.admin("/balances", {"token": token, "credits": 7})
    assert dm.client(token).credits.get().credit_balance == 7


def test_upscale_makes_a_video_at_the_resolution_asked(dm: Target) -> None:
    source = _completed_video(dm, aspect_ratio="9:16", resolution="540p")
    upscaled = dm.client().generations.upscale(source.id, resolution="1080p")
    assert upscaled.id != source.id and upscaled.state in ("queued", "dreaming")
    assert (upscaled.generation_type, upscaled.model) == ("video", "ray-2")
    dm.advance(30)
    raw = dm.client().generations.with_raw_response.get(upscaled.id)
    _valid("generation", raw.http_response.json())
    done = raw.parse()
    assert video_size(dm.fetch(done.assets.video).content) == (1080, 1920)
    # With no resolution: the next one up (1080p -> 4k).
    again = dm.client().generations.upscale(done.id)
    dm.advance(30)
    video = dm.fetch(dm.client().generations.get(again.id).assets.video).content
    assert video_size(video) == (2160, 3840)


def test_audio_adds_a_sound_track_at_the_sources_size(dm: Target) -> None:
    source = _completed_video(dm, aspect_ratio="1:1", resolution="720p")
    assert not has_audio(dm.fetch(source.assets.video).content)
    with_sound = dm.client().generations.audio(
        source.id, prompt="rain on a tin roof", negative_prompt="music"
    )
    assert with_sound.request.prompt == "rain on a tin roof"
    dm.advance(30)
    done = dm.client().generations.get(with_sound.id)
    video = dm.fetch(done.assets.video).content
    assert video_size(video) == (720, 720) and has_audio(video)


def test_reframe_image_at_the_new_aspect_ratio(dm: Target) -> None:
    reframed = dm.client().generations.image.reframe(
        generation_type="reframe_image",
        model="photon-flash-1",
        aspect_ratio="9:16",
        media={"url": "https://example.com/cat.jpg"},
        x_start=0,
        x_end=512,
    )
    assert reframed.generation_type == "image"
    dm.advance(30)
    image = dm.fetch(dm.client().generations.get(reframed.id).assets.image)
    assert image.headers["content-type"] == "image/jpeg"
    assert jpeg_size(image.content) == (752, 1360)


def test_reframe_video_keeps_a_known_sources_resolution(dm: Target) -> None:
    source = _completed_video(dm, resolution="540p")  # 16:9
    reframed = dm.client().generations.video.reframe(
        generation_type="reframe_video",
        model="ray-2",
        aspect_ratio="9:21",
        media={"url": source.assets.video},
    )
    dm.advance(30)
    video = dm.fetch(dm.client().generations.get(reframed.id).assets.video).content
    assert video_size(video) == (540, 1260)


def test_modify_video_keeps_the_sources_size(dm: Target) -> None:
    source = _completed_video(dm, aspect_ratio="4:3", resolution="1080p")
    modified = dm.client().generations.video.modify(
        generation_type="modify_video",
        model="ray-flash-2",
        mode="reimagine_2",
        media={"url": source.assets.video},
        prompt="as a watercolour",
    )
    dm.advance(30)
    video = dm.fetch(dm.client().generations.get(modified.id).assets.video).content
    assert video_size(video) == (1440, 1080)
    # A URL the fake does not know: a 720p 16:9 video (decision).
    elsewhere = dm.client().generations.video.modify(
        generation_type="modify_video",
        model="ray-2",
        mode="adhere_1",
        media={"url": "https://example.com/clip.mp4"},
    )
    dm.advance(30)
    video = dm.fetch(dm.client().generations.get(elsewhere.id).assets.video).content
    assert video_size(video) == (1280, 720)


# -- exceptions, by status ----------------------------------------------------------------


def test_bad_request_names_the_field(dm: Target) -> None:
    client = dm.client()
    with pytest.raises(lumaai.BadRequestError) as refused:
        client.generations.video.modify(
            generation_type="modify_video",
            model="ray-2",
            mode="flex_4",  # type: ignore[arg-type]
            media={"url": "https://example.com/clip.mp4"},
        )
    assert refused.value.status_code == 400 and "mode" in refused.value.body["detail"]
    source = _completed_video(dm)
    with pytest.raises(lumaai.BadRequestError) as refused:
        client.generations.upscale(source.id, resolution="8k")
    assert refused.value.body == {
        "detail": "resolution: Resolution 8k is not supported (540p, 720p, 1080p, 4k)"
    }


def test_authentication_error(dm: Target) -> None:
    with pytest.raises(lumaai.AuthenticationError) as refused:
        dm.client("not-a-known-token").generations.upscale("any-id")
    assert refused.value.body == {"detail": "Invalid API key is provided"}


def test_payment_required_when_the_credits_are_spent(dm: Target) -> None:
    token = fresh_token()
    dm.admin("/balances", {"token": token, "credits": 0})
    with pytest.raises(lumaai.APIStatusError) as refused:
        dm.client(token).generations.image.reframe(
            generation_type="reframe_image",
            model="photon-1",
            aspect_ratio="1:1",
            media={"url": "https://example.com/cat.jpg"},
        )
    assert refused.value.status_code == 402
    assert refused.value.body == {"detail": "Insufficient credits"}


def test_not_found_for_another_tokens_generation(dm: Target) -> None:
    mine = _completed_video(dm)
    with pytest.raises(lumaai.NotFoundError) as missing:
        dm.client(OTHER).generations.audio(mine.id)
    assert missing.value.body == {"detail": "Generation not found"}
    with pytest.raises(lumaai.NotFoundError):
        dm.client().generations.upscale("00000000-0000-4000-8000-000000000000")


def test_conflict_for_a_source_not_completed_or_not_a_video(dm: Target) -> None:
    client = dm.client()
    dreaming = client.generations.create(model="ray-2", prompt="a slow sunrise")
    with pytest.raises(lumaai.ConflictError) as refused:
        client.generations.upscale(dreaming.id)
    assert "not completed" in refused.value.body["detail"]
    image = client.generations.image.create(model="photon-1", prompt="a red kite")
    dm.advance(30)
    with pytest.raises(lumaai.ConflictError) as refused:
        client.generations.audio(image.id)
    assert "is an image" in refused.value.body["detail"]
    with pytest.raises(lumaai.ConflictError):  # 1080p is not above 1080p
        client.generations.upscale(_completed_video(dm, resolution="1080p").id, resolution="1080p")


def test_rate_limited_calls_are_retried_then_raised(dm: Target) -> None:
    token = fresh_token()
    client = dm.client(token, max_retries=2)
    path = f"{PREFIX}/ping"
    before = len(dm.requests_to(path))
    dm.admin("/rate-limit", {"limit": "1/1"})  # Retry-After: 1 s, which the SDK honours
    try:
        client.ping.check()
        with pytest.raises(lumaai.RateLimitError) as limited:
            client.ping.check()  # the fake's clock stands still: every retry is refused
    finally:
        dm.admin("/rate-limit", {"limit": None})
    assert limited.value.body == {"detail": "Rate limit exceeded, please try again later"}
    answered = [e["status"] for e in dm.requests_to(path)[before:]]
    assert answered == [200, 429, 429, 429]  # the call, then 1 + 2 retries


# -- in process: scenario rules make 422 and 500 ----------------------------------------


def _rules(dm: Target) -> Any:
    assert dm.engine is not None
    return dm.engine.scenarios


def test_unprocessable_entity(local: Target) -> None:
    rules = _rules(local)
    rules.add({"match": {"endpoint": "reframe_video"}, "then": {"reject": "unprocessable"}})
    try:
        with pytest.raises(lumaai.UnprocessableEntityError) as refused:
            local.client().generations.video.reframe(
                generation_type="reframe_video",
                model="ray-2",
                aspect_ratio="1:1",
                media={"url": "https://example.com/clip.mp4"},
            )
    finally:
        rules.clear()
    assert refused.value.body == {"detail": "Unprocessable entity"}


def test_server_errors_are_retried_until_one_succeeds(local: Target) -> None:
    rules = _rules(local)
    source = _completed_video(local)
    then = [{"reject": "too_many_requests", "retry_after": 0.01}, {"reject": "api_error"}]
    rules.add({"match": {"endpoint": "upscale"}, "then": then})
    path = f"{PREFIX}/generations/{source.id}/upscale"
    try:
        upscaled = local.client(max_retries=2).generations.upscale(source.id)
    finally:
        rules.clear()
    assert upscaled.state in ("queued", "dreaming")
    assert [e["status"] for e in local.requests_to(path)] == [429, 500, 200]


def test_internal_server_error_after_the_retries(local: Target) -> None:
    rules = _rules(local)
    rules.add({"match": {"endpoint": "credits"}, "then": {"reject": "api_error"}})
    try:
        with pytest.raises(lumaai.InternalServerError) as broken:
            local.client(max_retries=1).credits.get()
    finally:
        rules.clear()
    assert broken.value.body == {"detail": "Internal server error"}
    assert [e["status"] for e in local.requests_to(f"{PREFIX}/credits")][-2:] == [500, 500]


# -- the dialect's own 404 for paths it does not know ------------------------------------


def test_unknown_path_under_the_prefix_is_a_detail_404(dm: Target) -> None:
    answer = dm.http.get(f"{dm.url}{PREFIX}/generations/x/y/z", headers={"Authorization": "x"})
    assert answer.status_code == 404 and answer.json() == {
        "detail": f"no such path: {PREFIX}/generations/x/y/z"
    }
    media = dm.http.get(f"{dm.url}/dream-machine/media/nope.mp4")
    assert media.status_code == 404 and set(media.json()) == {"detail"}
    # The root is shared with the AceDataCloud dialect, whose envelope it keeps.
    assert dm.http.get(f"{dm.url}/no/such/path").json()["error"]["code"] == "not_found"
