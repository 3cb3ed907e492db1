"""`luma-mock replay FILE` over real sockets, on a manual clock, from a hand-made
cassette (`replay_cassettes.session`): matching, the create answered once, identical
requests in recorded order, polls on the task's timeline, a synchronous call held,
callbacks to the replaying client's own URL at their offsets, media with Range, the
journal, waits and reset (rewind), and the unmatched request refused loudly."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from mock_server.harness.process import ServedFake
from mock_server.harness.receiver import CallbackReceiver
from tests.replay_cassettes import CDN, T1, T2, T3, VIDEO, poll, session
from tests.support import InThread, LiveServer, serving

AUTH = {"Authorization": "Bearer a-token-of-the-replaying-client"}
CREATE = {"prompt": "a cat", "callback_url": "http://127.0.0.1:1/cb", "timeout": 300}


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    cassette = session().write(tmp_path_factory.mktemp("replay") / "session.jsonl")
    with serving(ServedFake.replay(cassette, "--clock", "manual")) as server:
        yield server


@pytest.fixture(autouse=True)
def rewound(replay: LiveServer) -> LiveServer:
    """Every test plays the cassette from its start (reset = rewind)."""
    replay.session.post(replay.url + "/__admin/reset", timeout=10).raise_for_status()
    return replay


def call(
    server: LiveServer, path: str, body: Any = None, method: str = "POST"
) -> requests.Response:
    return server.session.request(method, server.url + path, json=body, headers=AUTH, timeout=30)


def advance(server: LiveServer, seconds: float) -> None:
    answer = server.session.post(server.url + "/__admin/clock/advance", json={"seconds": seconds})
    answer.raise_for_status()


def state_of(server: LiveServer) -> str:
    answer = call(server, "/luma/tasks", poll(T1))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["response"]["state"])


def test_the_banner_is_serves(replay: LiveServer) -> None:
    assert replay.banner[0] == f"luma-mock listening on {replay.url}\n"
    assert replay.banner[1].startswith("  clock manual;")


def test_a_create_is_answered_once_volatile_fields_ignored(replay: LiveServer) -> None:
    # Another timeout and another host for the callback: still the recorded request.
    asked = {**CREATE, "timeout": 5, "callback_url": "http://127.0.0.1:9/cb"}
    first = call(replay, "/luma/videos", asked)
    assert first.status_code == 200
    assert first.json() == {"task_id": T1, "state": "pending"}
    assert first.headers["x-request-id"] == "r-1"  # the recorded headers, as recorded
    again = call(replay, "/luma/videos", asked)
    assert again.status_code == 501
    assert again.headers["X-Luma-Mock-Replay"] == "unmatched"
    assert "answered once" in again.json()["error"]["message"]


def test_a_refused_create_then_its_retry_in_recorded_order(replay: LiveServer) -> None:
    answers = [call(replay, "/luma/videos", {"prompt": "busy"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 200, 501]
    assert answers[0].headers["Retry-After"] == "3"
    assert answers[1].json()["task_id"] == T3


def test_identical_requests_in_recorded_order(replay: LiveServer) -> None:
    answers = [call(replay, "/dream-machine/v1/credits", method="GET") for _ in range(3)]
    assert [a.json()["credit_balance"] for a in answers] == [100, 90, 90]  # then the last
    assert all("Content-Encoding" not in a.headers for a in answers)  # sent as stored


def test_polls_follow_the_timeline_never_early_never_stuck(replay: LiveServer) -> None:
    call(replay, "/luma/videos", CREATE).raise_for_status()
    # Recorded at offsets 2 (pending), 10 (processing) and 30 (completed) since the
    # create's answer; before the first offset, the first.
    seen = [state_of(replay)]
    for step in (2.0, 7.9, 0.1, 19.9, 0.1):
        advance(replay, step)
        seen.append(state_of(replay))
    assert seen == ["pending", "pending", "pending", "processing", "processing", "completed"]
    assert [state_of(replay) for _ in range(3)] == ["completed"] * 3


def test_the_task_lives_in_the_engine_waits_and_the_journal(replay: LiveServer) -> None:
    call(replay, "/luma/videos", CREATE).raise_for_status()
    task = replay.session.get(f"{replay.url}/__admin/tasks/{T1}").json()
    assert task["state"] == "pending"
    advance(replay, 10)
    assert replay.session.get(f"{replay.url}/__admin/tasks/{T1}").json()["state"] == "processing"
    waiting = InThread(requests.post, f"{replay.url}/__admin/tasks/{T1}/wait", json={})
    advance(replay, 20)
    done = waiting.join().json()
    assert done["state"] == "completed"
    assert done["record"]["response"]["video_url"].endswith(".mp4")
    detail = replay.session.get(f"{replay.url}/__admin/tasks/{T1}/detail")  # the dashboard's
    assert detail.status_code == 200 and detail.json()["record"] == done["record"]
    journal = replay.session.get(f"{replay.url}/__admin/journal", params={"task_id": T1}).json()
    # The create, and the recorded callback's attempt at its (unreachable) URL.
    assert [(e["kind"], e["path"]) for e in journal["entries"]] == [
        ("request", "/luma/videos"),
        ("callback", "/cb"),
    ]


def test_a_synchronous_call_is_held_for_its_recorded_duration(replay: LiveServer) -> None:
    held = InThread(call, replay, "/luma/videos", {"prompt": "slow"})
    unanswered = {"answered": "false", "path": "/luma/videos"}
    wait = replay.session.post(f"{replay.url}/__admin/journal/wait", json=unanswered)
    assert wait.status_code == 200, wait.text
    advance(replay, 59.9)
    still = replay.session.get(f"{replay.url}/__admin/journal", params=unanswered).json()
    assert len(still["entries"]) == 1 and not held.done
    advance(replay, 0.1)
    answer = held.join()
    assert answer.status_code == 200 and answer.json()["task_id"] == T2


def test_callbacks_reach_the_replaying_clients_url_at_their_offsets(replay: LiveServer) -> None:
    with CallbackReceiver() as receiver:
        own = f"http://{urlsplit(receiver.url).netloc}/cb"  # the recorded path, another port
        asked = {**CREATE, "callback_url": own}
        call(replay, "/luma/videos", asked).raise_for_status()
        advance(replay, 29.7)  # the recorded first attempt came at offset 29.8
        assert receiver.accepted() == []
        advance(replay, 0.1)
        got = receiver.wait_count(1)
        assert got[0].path == "/cb"
        assert got[0].body["state"] == "completed"
        # The media URL points at the replay, and its bytes are the recorded ones.
        url = got[0].body["video_url"]
        assert url.startswith(replay.url + "/__cassette/media/") and CDN not in url
        delivery = replay.session.get(f"{replay.url}/__admin/tasks/{T1}/callback").json()
        assert delivery["state"] == "delivered"
        assert delivery["url"] == own


def test_media_is_served_with_range(replay: LiveServer) -> None:
    name = hashlib.sha256(VIDEO).hexdigest() + ".mp4"
    url = f"{replay.url}/__cassette/media/{name}"
    whole = replay.session.get(url)
    assert whole.status_code == 200 and whole.content == VIDEO
    assert whole.headers["Content-Type"] == "video/mp4"
    part = replay.session.get(url, headers={"Range": "bytes=100-299"})
    assert part.status_code == 206 and part.content == VIDEO[100:300]
    missing = replay.session.get(f"{replay.url}/__cassette/media/nothing.mp4")
    assert missing.status_code == 404


def test_reset_rewinds(replay: LiveServer) -> None:
    call(replay, "/luma/videos", CREATE).raise_for_status()
    advance(replay, 40)
    assert state_of(replay) == "completed"
    replay.session.post(replay.url + "/__admin/reset").raise_for_status()
    assert replay.session.get(f"{replay.url}/__admin/journal").json()["entries"] == []
    assert call(replay, "/luma/videos", CREATE).status_code == 200  # not consumed any more
    assert replay.session.get(f"{replay.url}/__admin/replay").json()["unreplayed_creates"] == [
        8,
        12,
    ]
    assert state_of(replay) == "pending"  # the clock is back at its start


def test_an_unrecorded_request_names_the_nearest_and_the_fields(replay: LiveServer) -> None:
    # The proxy's own refusal of "a dog" is in the cassette, but never the provider's.
    refused = call(replay, "/luma/videos", {"prompt": "a dog"})
    assert refused.status_code == 501
    assert refused.headers["X-Luma-Mock-Replay"] == "unmatched"
    error = refused.json()
    assert error["success"] is False and error["error"]["code"] == "not_recorded"
    message = error["error"]["message"]
    assert "nearest: POST /luma/videos (seq 8)" in message
    assert message.endswith("differing: body.prompt")
    # Dream Machine's paths refuse in Dream Machine's shape.
    unknown = call(replay, "/dream-machine/v1/generations/nope", method="GET")
    assert unknown.status_code == 501 and unknown.headers["X-Luma-Mock-Replay"] == "unmatched"
    assert set(unknown.json()) == {"detail"}
    assert "(seq 9), differing: path" in unknown.json()["detail"]
    progress = replay.session.get(f"{replay.url}/__admin/replay").json()
    assert [(u["path"], u["nearest"]) for u in progress["unmatched"]] == [
        ("/luma/videos", 8),
        ("/dream-machine/v1/generations/nope", 9),
    ]
    assert progress["unmatched"][0]["differing"] == ["body.prompt"]
    assert progress["unreplayed_creates"] == [0, 8, 12]  # none replayed in this play


def test_the_nearest_recording_is_one_of_the_requests_own_api(replay: LiveServer) -> None:
    # Its body is the AceData create's, but a Dream Machine path is nearer a Dream
    # Machine recording than any /luma/ one.
    body = {"prompt": "a cat", "callback_url": "http://127.0.0.1:1/cb"}
    unknown = call(replay, "/dream-machine/v1/generations/nope", body, method="PUT")
    assert unknown.status_code == 501, unknown.text
    assert "nearest: GET /dream-machine/v1/credits (seq 9)" in unknown.json()["detail"]


# -- another play: faster, relaxed, from a cassette whose recording was killed --------


@pytest.fixture(scope="module")
def relaxed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    path = tmp_path_factory.mktemp("relaxed") / "killed.jsonl"
    cassette = session().write(path, torn='{"type": "exchange", "seq": 11, "at": 1')
    args = ("--clock", "manual", "--speed", "2", "--match-ignore", "prompt")
    args += ("--public-url", "http://replay.example.test")
    with serving(ServedFake.replay(cassette, *args)) as server:
        yield server


def test_speed_scales_the_timeline(relaxed: LiveServer) -> None:
    asked = {**CREATE, "prompt": "any prompt at all"}  # --match-ignore prompt
    assert call(relaxed, "/luma/videos", asked).status_code == 200
    advance(relaxed, 4.9)  # 9.8 recorded seconds
    assert state_of(relaxed) == "pending"
    advance(relaxed, 0.1)
    assert state_of(relaxed) == "processing"
    advance(relaxed, 10)
    done = call(relaxed, "/luma/tasks", poll(T1)).json()["response"]
    assert done["state"] == "completed"
    assert done["video_url"].startswith("http://replay.example.test/__cassette/media/")


def test_a_torn_last_line_is_a_warning(relaxed: LiveServer) -> None:
    assert "warning" in relaxed.fake.output and "truncated last line 15" in relaxed.fake.output


def test_bad_match_ignore_and_cassette_are_refused(tmp_path: Path) -> None:
    cassette = session().write(tmp_path / "s.jsonl")
    for args in (("--match-ignore", "cookie:x"), ("--speed", "0")):
        with pytest.raises(RuntimeError, match="luma-mock: "):
            ServedFake.replay(cassette, *args, ready_timeout=20)
    broken = tmp_path / "broken.jsonl"
    broken.write_text("not json\n{}\n")
    with pytest.raises(RuntimeError, match="line 1"):
        ServedFake.replay(broken, ready_timeout=20)
    # A hand edit the schema refuses (a body that does not decode) is refused at the
    # start, naming the line and field, not a 500 at the request that meets it.
    tape = session()
    tape.events[1]["response"]["body"] = {"base64": "!!!"}
    edited = tape.write(tmp_path / "edited.jsonl")
    with pytest.raises(RuntimeError, match="line 3: response/body"):
        ServedFake.replay(edited, ready_timeout=20)


# -- the engine's hook, in process ----------------------------------------------------


def test_an_adopted_task_moves_on_the_clock_shows_its_view_and_goes_with_reset() -> None:
    from mock_server.engine.tasks import Task
    from tests.support import manual_service

    engine = manual_service()
    now = engine.clock.now()
    task = Task(id="adopted", output_id="adopted", action="replay", request={}, token="t",
                trace_id="adopted", variant="", public_url="http://x", created_at=now,
                clock=engine.clock, starts_at=now + 2, ends_at=now + 5)  # fmt: skip
    engine.adopt(task, lambda t: {"shown": t.state.value})
    assert engine.record(engine.task("adopted")) == {"shown": "pending"}
    engine.advance(2)
    assert engine.task("adopted").state.value == "processing"
    engine.advance(3)
    assert engine.task("adopted").result == {"shown": "processing"}  # its view at its end
    assert engine.record(task) == {"shown": "completed"} and engine.adopted(task)
    engine.reset()
    assert engine.store.get("adopted") is None and not engine.adopted(task)


def test_a_fake_that_replays_nothing_has_no_replay_progress() -> None:
    from mock_server.web.app import create_app
    from tests.support import manual_service

    answer = create_app(manual_service()).test_client().get("/__admin/replay")
    assert answer.status_code == 404 and "replays no cassette" in answer.get_data(as_text=True)


def test_a_task_whose_failure_only_a_callback_showed_fails_in_the_replay(tmp_path: Path) -> None:
    import json

    from mock_server.replay import Asked, Player
    from mock_server.replay.loading import open_cassette
    from tests.replay_cassettes import Tape
    from tests.support import manual_service

    tape = Tape()  # a client that waits on its callback: it polled nothing
    create = {"prompt": "a storm", "callback_url": "http://127.0.0.1:1/cb"}
    tape.exchange(1.0, "POST", "/luma/videos", create, 200, {"task_id": T1}, task=T1,
                  role="create", state="pending", duration=0.0)  # fmt: skip
    failed = {"success": False, "error": {"code": "forbidden", "message": "no"}, "task_id": T1}
    tape.callback(9.0, T1, 1, failed, 200, state="failed")
    engine = manual_service()
    player = Player(engine.fake, open_cassette(tape.write(tmp_path / "storm.jsonl")))
    asked = Asked("POST", "/luma/videos", None, {"content-type": "application/json"},
                  json.dumps(create).encode())  # fmt: skip
    assert player.answer(asked, "http://replay.test", "t").status == 200
    engine.advance(7.9)
    assert not engine.task(T1).finished
    engine.advance(0.1)
    assert engine.task(T1).state.value == "failed"
