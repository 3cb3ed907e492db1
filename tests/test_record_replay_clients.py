"""Record and replay, honestly: real clients, a real stand-in, then no stand-in at all.

The "real service" is `luma-mock serve` in its own process, with a secret token and a
random seed (its ids are nobody's constants). Three clients that know nothing of
luma-mock — the provider's SDK (``acedatacloud``), its Luma CLI (``luma_cli``) and Luma's
official ``lumaai`` SDK — each run a session through the recording proxy. Then the
stand-in is KILLED, each cassette is replayed (`luma-mock replay`), the same client
code runs again, and what it got is compared field by field: ids, states, media bytes.
The secret is in no cassette and no media file.
"""

from __future__ import annotations

import random
import secrets
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lumaai
import pytest
import requests
from acedatacloud import AceDataCloud
from acedatacloud._runtime.tasks import task_status

from contract_tests.consumer.proxy import ValidatingProxy
from contract_tests.consumer.recorder import Recorder
from mock_server.cassettes import read_cassette
from mock_server.cassettes.check import check
from mock_server.cassettes.format import media_folder
from mock_server.cassettes.scenarios import rules_from
from mock_server.engine.config import Settings
from mock_server.harness.process import ServedFake
from tests.support import live_server, serving
from tests.test_real_clients import luma_cli

SECRET = "sk-live-" + secrets.token_urlsafe(24)  # the stand-in's token: never on disk
PROMPT = "a lighthouse in a storm"


def _bytes(url: str) -> bytes:
    answer = requests.get(url, timeout=10)
    answer.raise_for_status()
    return answer.content


def with_sdk(url: str) -> dict[str, Any]:
    """The provider's SDK: generate, poll until done (its own loop), fetch the video."""
    with AceDataCloud(api_token=SECRET, base_url=url) as sdk:
        handle = sdk.luma.generate(
            prompt=PROMPT, aspect_ratio="16:9", wait=True, poll_interval=0.05, max_wait=10
        )
        done = handle.result()
        assert done is not None
        video, thumbnail = handle.urls()
        return {
            "id": handle.id,
            "status": task_status(done),
            "video_id": done["response"]["video_id"],
            "size": (done["response"]["video_width"], done["response"]["video_height"]),
            "video": _bytes(video),
            "thumbnail": _bytes(thumbnail),
        }


def with_cli(url: str) -> dict[str, Any]:
    """The provider's Luma CLI, as a user runs it: one synchronous generate."""
    run = luma_cli(url, "generate", PROMPT, "--aspect-ratio", "9:16", "--json", token=SECRET)
    assert run.code == 0, run.output
    result = run.json()
    return {
        "task_id": result["task_id"],
        "video_id": result["video_id"],
        "state": result["state"],
        "video": _bytes(result["video_url"]),
    }


def with_lumaai(url: str) -> dict[str, Any]:
    """Luma's own SDK: create a generation, get it until it is done, fetch its video."""
    client = lumaai.LumaAI(auth_token=SECRET, base_url=url + "/dream-machine/v1", max_retries=0)
    made = client.generations.create(model="ray-2", prompt=PROMPT)
    done, seen = made, [made.state]
    while done.state not in ("completed", "failed") and len(seen) < 100:
        time.sleep(0.05)  # the client's own poll interval
        done = client.generations.get(made.id)
        seen.append(done.state)
    assert done.assets is not None and done.assets.video is not None
    states = list(dict.fromkeys(seen))  # each state once: how many polls saw it is timing
    return {
        "id": made.id,
        "states": states,
        "model": done.model,
        "video": _bytes(done.assets.video),
    }


CLIENTS: dict[str, Callable[[str], dict[str, Any]]] = {
    "acedatacloud": with_sdk,
    "luma_cli": with_cli,
    "lumaai": with_lumaai,
}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict]]:
    """Each client's session recorded through the proxy; the stand-in then killed."""
    folder = tmp_path_factory.mktemp("cassettes")
    seed = str(random.randrange(1 << 30))
    found: dict[str, tuple[Path, dict]] = {}
    # Tasks take half a second: the clients poll through pending and processing.
    with live_server("--token", SECRET, "--seed", seed, "--delay", "0.5") as stand_in:
        for name, client in CLIENTS.items():
            path = folder / f"{name}.jsonl"
            recorder = Recorder(path, stand_in.url)
            proxy = ValidatingProxy(stand_in.url, recorder=recorder).start()
            try:
                got = client(proxy.url)
            finally:
                proxy.stop()
            assert recorder.close() == [], f"{name}: the scan found a secret on disk"
            found[name] = (path, got)
        stand_in.fake.stop(signal.SIGKILL)
        assert stand_in.process.poll() is not None  # nothing left to answer
    return found


@pytest.mark.parametrize("name", list(CLIENTS))
def test_a_replayed_session_gives_the_client_what_the_recording_did(
    name: str, recorded: dict[str, tuple[Path, dict]]
) -> None:
    path, got = recorded[name]
    assert check(path) == []
    on_disk = [path, *media_folder(path).iterdir()]
    assert all(SECRET.encode() not in file.read_bytes() for file in on_disk)
    assert read_cassette(path).of_type("media")  # the finished task's media came along
    # The session as the fake's rules: one create, never seen done before its 0.5 s.
    (rule,) = rules_from(read_cassette(path))
    assert rule["then"]["queue"] + rule["then"]["delay"] >= 0.5
    assert len(Settings(scenarios=(rule,)).scenarios) == 1  # a rule serve --config takes

    with serving(ServedFake.replay(path, "--log-level", "warning")) as replay:
        again = CLIENTS[name](replay.url)
        state = requests.get(f"{replay.url}/__admin/replay", timeout=10).json()
    assert again == got  # ids, states, sizes and the media bytes, field by field
    assert name != "lumaai" or got["states"] == ["dreaming", "completed"]  # polled, in order
    assert state["unmatched"] == [] and state["unreplayed_creates"] == []
