"""A session recorded through the proxy (`proxy --cassette`) from a stand-in provider —
`luma-mock serve` in its own process, with a secret token and random ids — then the
stand-in stopped and the cassette replayed (`luma-mock replay`): the replaying client
gets what the recording client got, field by field, on the recorded timeline, with its
own callback URL and media served by the replay."""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from contract_tests.consumer.proxy import ValidatingProxy
from contract_tests.consumer.recorder import Recorder
from mock_server.harness.process import ServedFake
from mock_server.harness.receiver import CallbackReceiver
from mock_server.harness.remote import RemoteFake
from tests.support import LiveServer, live_server, serving

SECRET = "sk-" + secrets.token_urlsafe(24)
AUTH = {"Authorization": f"Bearer {SECRET}"}
REPLAYING = {"Authorization": "Bearer another-token-entirely"}
DM = "/dream-machine/v1"


ACCOUNTS = ("user_id", "api_id", "application_id", "credential_id")


def without_media(value: Any) -> Any:
    """``value`` with every media URL (the provider's or the replay's) and account id (a
    pseudonym in the cassette: never on disk) blanked."""
    if isinstance(value, dict):
        return {
            k: "<media>" if k.endswith("_url") and k != "callback_url"
            else "<account>" if k in ACCOUNTS else without_media(v)
            for k, v in value.items()
        }  # fmt: skip
    if isinstance(value, list):
        return [without_media(v) for v in value]
    if isinstance(value, str) and value.startswith("http") and value.endswith((".mp4", ".jpg")):
        return "<media>"
    return value


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Record one AceData task (created with a callback, polled before and after its end)
    and one Dream Machine generation, then stop the stand-in."""
    cassette = tmp_path_factory.mktemp("recorded") / "session.jsonl"
    seen: dict[str, Any] = {"cassette": cassette}
    seed = str(random.randrange(1 << 30))
    args = ("--token", SECRET, "--seed", seed, "--clock", "manual", "--delay", "10")
    with live_server(*args, "--log-level", "warning") as provider, CallbackReceiver() as hook:
        recorder = Recorder(cassette, provider.url)
        proxy = ValidatingProxy(provider.url, port=0, recorder=recorder).start()
        control = RemoteFake(provider.url)
        try:
            create = {"prompt": "a lighthouse", "callback_url": hook.url}
            made = requests.post(proxy.url + "/luma/videos", json=create, headers=AUTH)
            seen["create"], task = create, made.json()["task_id"]
            seen["created"], seen["task"] = made.json(), task
            retrieve = {"action": "retrieve", "id": task}
            first = requests.post(proxy.url + "/luma/tasks", json=retrieve, headers=AUTH)
            control.advance(20)
            seen["callback"] = hook.wait_for(task)
            last = requests.post(proxy.url + "/luma/tasks", json=retrieve, headers=AUTH)
            seen["polls"] = [first.json(), last.json()]
            seen["video"] = requests.get(last.json()["response"]["video_url"]).content
            generation = requests.post(
                f"{proxy.url}{DM}/generations/video",
                headers=AUTH,
                json={"prompt": "a comet", "model": "ray-2"},
            ).json()
            control.advance(20)
            got = requests.get(f"{proxy.url}{DM}/generations/{generation['id']}", headers=AUTH)
            seen["generation"], seen["generated"] = generation, got.json()
            # A token in the query string (a client that authenticates so): aliased on disk.
            credits = requests.get(
                f"{proxy.url}{DM}/credits", params={"api_key": SECRET}, headers=AUTH
            )
            seen["credits"] = credits.json()
        finally:
            proxy.stop()
            assert recorder.close() == []
            control.close()
    yield seen  # the stand-in is gone: nothing below can reach it


@pytest.fixture(scope="module")
def replay(recorded: dict[str, Any]) -> Iterator[LiveServer]:
    with serving(ServedFake.replay(recorded["cassette"], "--clock", "manual")) as server:
        yield server


def test_the_replay_answers_as_the_provider_did(
    recorded: dict[str, Any], replay: LiveServer
) -> None:
    with CallbackReceiver() as hook:
        own = f"http://{urlsplit(hook.url).netloc}{urlsplit(hook.url).path}"
        create = {**recorded["create"], "callback_url": own}
        made = requests.post(replay.url + "/luma/videos", json=create, headers=REPLAYING)
        assert made.json() == recorded["created"]
        retrieve = {"action": "retrieve", "id": recorded["task"]}
        first = requests.post(replay.url + "/luma/tasks", json=retrieve, headers=REPLAYING)
        first_seen = recorded["polls"][0]
        assert without_media(first.json()) == without_media(
            {**first_seen, "request": {**first_seen["request"], "callback_url": own}}
        )
        requests.post(replay.url + "/__admin/clock/advance", json={"seconds": 60})
        called = hook.wait_for(recorded["task"])
        last = requests.post(replay.url + "/luma/tasks", json=retrieve, headers=REPLAYING).json()
    want = recorded["polls"][1]
    assert last["response"]["state"] == "completed"
    assert last["request"]["callback_url"] == own  # the replaying client sees its own URL
    assert last["user_id"].startswith("account-")  # as the cassette keeps it
    assert without_media(last) == without_media(
        {**want, "request": {**want["request"], "callback_url": own}}
    )
    assert without_media(called) == without_media(recorded["callback"])
    video = last["response"]["video_url"]
    assert video.startswith(replay.url + "/__cassette/media/")
    assert requests.get(video).content == recorded["video"]


def test_a_dream_machine_generation_replays(recorded: dict[str, Any], replay: LiveServer) -> None:
    made = requests.post(f"{replay.url}{DM}/generations/video", headers=REPLAYING,
                         json={"prompt": "a comet", "model": "ray-2"})  # fmt: skip
    assert made.json() == recorded["generation"]
    requests.post(replay.url + "/__admin/clock/advance", json={"seconds": 60})
    got = requests.get(f"{replay.url}{DM}/generations/{made.json()['id']}", headers=REPLAYING)
    assert without_media(got.json()) == without_media(recorded["generated"])
    assert all(url.startswith(replay.url) for url in got.json()["assets"].values())


def test_a_request_with_a_token_in_its_query_matches_with_another_token(
    recorded: dict[str, Any], replay: LiveServer
) -> None:
    # The cassette holds the token's alias, so the replaying client's own token (or the
    # recording's) must not be compared with it, as headers' tokens are not.
    replaying = {"api_key": "another-token-entirely"}
    got = requests.get(f"{replay.url}{DM}/credits", params=replaying, headers=REPLAYING)
    assert got.status_code == 200, got.text
    assert got.json() == recorded["credits"]
    assert "X-Luma-Mock-Replay" not in got.headers
