"""The dashboard's server side: the engine's change notices (one seam), the data the page
reads (tasks a page at a time across both dialects, one task's story, the latest journal
entries), its safety, and the live stream — served, and ended cleanly at shutdown.
The page itself is driven in a real browser in tests/test_dashboard_browser.py."""

from __future__ import annotations

import http.client
import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from mock_server.acedata.service import LumaService
from mock_server.dream_machine import DIALECT as DREAM_MACHINE
from mock_server.engine.changes import Change, Changes
from mock_server.engine.config import Settings
from mock_server.harness.receiver import CallbackReceiver
from mock_server.web import live
from mock_server.web.app import create_app
from mock_server.web.server import banner
from tests.support import AUTH, PROMPT, TOKEN, live_server, manual_service

T0 = 1_700_000_000.0
DM_CREATE = "/dream-machine/v1/generations/video"


@pytest.fixture
def luma() -> Iterator[LumaService]:
    service = manual_service()
    service.fake.add(DREAM_MACHINE)
    yield service
    service.close()


@pytest.fixture
def client(luma: LumaService) -> FlaskClient:
    return create_app(luma).test_client()


def start_acedata(client: FlaskClient, prompt: str = PROMPT, **body: Any) -> str:
    answer = client.post(
        "/luma/videos", json={"prompt": prompt, "async": True, **body}, headers=AUTH
    )
    assert answer.status_code == 200, answer.get_json()
    return str(answer.get_json()["task_id"])


def start_dream(client: FlaskClient, prompt: str = PROMPT) -> str:
    answer = client.post(DM_CREATE, json={"model": "ray-2", "prompt": prompt}, headers=AUTH)
    assert answer.status_code == 201, answer.get_json()
    return str(answer.get_json()["id"])


def admin(client: FlaskClient, path: str, **kwargs: Any) -> Any:
    answer = client.get("/__admin" + path, **kwargs)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


# -- the seam ---------------------------------------------------------------------------


def test_every_kind_of_change_is_told_through_one_seam(luma: LumaService) -> None:
    seen: list[Change] = []
    stop = luma.changes.subscribe(seen.append)
    dream = luma.fake.engines["dream-machine"]
    assert dream.changes is luma.changes and luma.journal.changes is luma.changes

    with CallbackReceiver() as receiver:
        app = create_app(luma).test_client()
        task_id = start_acedata(app, callback_url=receiver.url)
        dream_id = start_dream(app)
        luma.complete(task_id)
        receiver.wait_for(task_id)
        luma.advance(1.5)
        luma.scenarios.add({"match": {"prompt_contains": "x"}, "then": {"reject": "forbidden"}})
        luma.reset()
    kinds = [(c.kind, c.key if c.kind in ("task", "callback") else None, c.dialect) for c in seen]
    assert ("task", task_id, "acedata") in kinds  # created, then ended
    assert kinds.count(("task", task_id, "acedata")) == 2
    assert ("task", dream_id, "dream-machine") in kinds
    assert ("callback", task_id, "acedata") in kinds
    assert ("rules", None, None) in kinds  # the one rule book: no dialect of its own
    assert any(c.kind == "journal" for c in seen)
    assert any(c.kind == "clock" and c.key == T0 + 1.5 for c in seen)
    assert seen[-1].kind == "reset"

    stop()
    seen.clear()
    luma.advance(1)
    assert seen == [] and luma.changes.listening == ()
    luma.close()
    assert seen == []


def test_the_close_is_told_last() -> None:
    service = manual_service()
    seen: list[str] = []
    service.changes.subscribe(lambda change: seen.append(change.kind))
    service.close()
    assert seen == ["closed"]


def test_nobody_listening_costs_one_truth_test() -> None:
    changes = Changes()
    assert not changes.listening
    changes.publish("task", "x")  # nobody to tell: nothing happens, nothing is built


def test_a_listener_coalesces_and_asks_for_a_refresh_past_its_limit() -> None:
    listener = live.Listener()
    listener(Change("task", "a", "acedata"))
    listener(Change("task", "a", "acedata"))
    assert listener.take(0) == ([Change("task", "a", "acedata")], False)
    assert listener.take(0) is None  # nothing new
    for n in range(live.MAX_PENDING + 5):
        listener(Change("journal", n))
    changes, overflow = listener.take(0) or ([], False)
    assert overflow and len(changes) == live.MAX_PENDING
    listener(Change("task", "b"))
    listener(Change("reset"))
    assert listener.take(0) == ([Change("reset")], False)


# -- what the page reads ------------------------------------------------------------------


def test_tasks_are_listed_newest_first_across_both_dialects_a_page_at_a_time(
    client: FlaskClient, luma: LumaService
) -> None:
    ids = []
    for n in range(5):
        ids.append(
            start_acedata(client, f"ace {n}") if n % 2 == 0 else start_dream(client, f"dm {n}")
        )
        luma.advance(1)
    page = admin(client, "/tasks?offset=1&limit=2")
    assert page["total"] == 5 and page["offset"] == 1 and page["limit"] == 2
    assert [row["id"] for row in page["tasks"]] == [ids[3], ids[2]]
    assert [row["dialect"] for row in page["tasks"]] == ["dream-machine", "acedata"]
    first = admin(client, "/tasks")["tasks"][0]
    assert first["prompt"] == "ace 4" and first["action"] == "generate"
    assert first["state"] == "pending" and first["created_at"] == T0 + 4
    assert first["starts_at"] == T0 + 6 and first["ends_at"] == T0 + 66  # 2 s queued, 60 s work
    only_dm = admin(client, "/tasks?dialect=dream-machine")
    assert [row["id"] for row in only_dm["tasks"]] == [ids[3], ids[1]]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
        ("dialect=klingon", "dialect"),
        ("page=2", "page"),
    ],
)
def test_a_bad_page_of_tasks_is_refused_naming_the_parameter(
    client: FlaskClient, query: str, named: str
) -> None:
    answer = client.get("/__admin/tasks?" + query)
    assert answer.status_code == 400
    assert named in answer.get_json()["error"]["message"]


def test_one_tasks_story_has_its_record_request_answer_callbacks_and_media(
    client: FlaskClient, luma: LumaService
) -> None:
    with CallbackReceiver() as receiver:
        receiver.answer(500)
        task_id = start_acedata(client, callback_url=receiver.url)
        luma.complete(task_id)
        luma.advance(5)  # the retry after the failed first attempt
        receiver.wait_for(task_id)
    detail = admin(client, f"/tasks/{task_id}/detail")
    assert detail["row"]["state"] == "completed"
    assert detail["request"]["callback_url"] == receiver.url
    assert detail["answer"] == {"task_id": task_id}
    assert detail["record"]["response"]["task_id"] == task_id
    (delivery,) = detail["callbacks"]
    assert [a["status"] for a in delivery["attempts"]] == [500, 200]
    assert all(a["duration_ms"] >= 0 for a in delivery["attempts"])
    assert {m["type"] for m in detail["media"]} == {"video/mp4", "image/jpeg"}
    for item in detail["media"]:
        served = client.get(item["url"])
        assert served.status_code == 200 and served.mimetype == item["type"]
    assert [m["ok"] for m in detail["row"]["callback"]["attempts"]] == [False, True]
    assert client.get("/__admin/tasks/nope/detail").status_code == 404


def test_the_latest_journal_entries_filter_like_the_control_api(
    client: FlaskClient, luma: LumaService
) -> None:
    start_acedata(client, extra_field=1)
    client.post("/luma/videos", json={}, headers=AUTH)
    latest = admin(client, "/journal/latest?limit=1")["entries"]
    assert [e["status"] for e in latest] == [400]
    assert latest[0]["duration_ms"] >= 0 and "headers" not in latest[0]
    ok = admin(client, "/journal/latest?status=200")["entries"]
    assert ok[0]["verdict"] == {"ok": True, "unknown_fields": ["extra_field"]}
    whole = admin(client, f"/journal/{ok[0]['seq']}")
    assert whole["headers"]["Authorization"] == "Bearer …oken"
    assert TOKEN not in json.dumps(whole)
    assert client.get("/__admin/journal/latest?colour=red").status_code == 400
    assert client.get("/__admin/journal/999").status_code == 404


def test_the_state_names_the_clock_dialects_credits_and_rate_limit(
    client: FlaskClient, luma: LumaService
) -> None:
    luma.accounts.set_balance("a-long-secret-token", 3)
    luma.accounts.set_rate_limit((10, 60.0))
    state = admin(client, "/state")
    assert state["now"] == T0 and state["manual"] is True
    assert [d["name"] for d in state["dialects"]] == ["acedata", "dream-machine"]
    assert "used_up" in state["dialects"][0]["error_codes"]
    assert state["balances"] == [{"token": "…oken", "credits": 3}]
    assert state["rate_limit"] == "10/60"


# -- safety -------------------------------------------------------------------------------


def test_the_page_is_served_with_a_policy_that_runs_only_its_own_script(
    client: FlaskClient,
) -> None:
    page = client.get("/__admin/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert b"/__admin/dashboard/dashboard.js" in page.data
    for name, kind in (("dashboard.js", "text/javascript"), ("dashboard.css", "text/css")):
        asset = client.get(f"/__admin/dashboard/{name}")
        assert asset.status_code == 200 and asset.mimetype == kind
    assert client.get("/__admin/dashboard/../admin.py").status_code == 404
    assert client.get("/__admin/dashboard/index.html").status_code == 404


def test_beyond_loopback_without_a_control_token_the_dashboard_is_off() -> None:
    client = create_app(manual_service(host="0.0.0.0")).test_client()
    for path in (
        "/__admin/",
        "/__admin/dashboard/dashboard.js",
        "/__admin/tasks",
        "/__admin/events",
    ):
        assert client.get(path).status_code == 404, path


def test_with_a_control_token_the_page_loads_but_its_data_needs_the_token() -> None:
    client = create_app(manual_service(host="0.0.0.0", control_token="s3cret")).test_client()
    assert client.get("/__admin/").status_code == 200
    for path in ("/__admin/tasks", "/__admin/state", "/__admin/journal/latest", "/__admin/events"):
        assert client.get(path).status_code == 401, path
    good = {"Authorization": "Bearer s3cret"}
    assert client.get("/__admin/tasks", headers=good).status_code == 200


# -- served: the banner and the live stream -------------------------------------------------


def open_events(url: str) -> http.client.HTTPResponse:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", "/__admin/events")
    return connection.getresponse()


def read_events(stream: http.client.HTTPResponse, count: int) -> list[tuple[str, Any]]:
    """The next ``count`` events (comments skipped) of a server-sent event stream (each
    read waits at most the connection's timeout)."""
    events: list[tuple[str, Any]] = []
    buffer = b""
    while len(events) < count:
        piece = stream.read1(65536)
        assert piece, f"the stream ended after {events}"
        buffer += piece
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            lines = block.decode().split("\n")
            name = next((line[7:] for line in lines if line.startswith("event: ")), None)
            data = next((line[6:] for line in lines if line.startswith("data: ")), None)
            if name is not None and data is not None:
                events.append((name, json.loads(data)))
    return events


def test_served_the_banner_names_the_dashboard_and_the_stream_is_live_until_shutdown() -> None:
    with live_server("--clock", "manual") as server:
        assert server.banner[2].strip() == f"dashboard: {server.url}/__admin/"
        stream = open_events(server.url)
        assert stream.status == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        ((name, hello),) = read_events(stream, 1)
        assert name == "hello" and hello["manual"] is True
        # While the stream is open, the fake answers other calls as usual.
        answer = server.post("/luma/videos", {"prompt": "<i>live</i>", "async": True})
        task_id = answer.json()["task_id"]
        seen = read_events(stream, 2)
        tasks = [data for name, data in seen if name == "task"]
        assert tasks and tasks[0]["id"] == task_id and tasks[0]["prompt"] == "<i>live</i>"
        assert any(name == "journal" for name, _ in seen)
        requests.post(server.url + "/__admin/clock/advance", json={"seconds": 2}, timeout=10)
        while (event := read_events(stream, 1)[0])[0] != "clock":
            pass  # what the call before changed, told after it
        assert event[1] == {"now": hello["now"] + 2, "manual": True}

        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        rest = stream.read()  # the whole rest: the server ends the stream at shutdown
        assert b"event: closed" in rest
        server.process.wait(timeout=5)
        assert time.monotonic() - started < 5 and server.process.returncode == 0
        # stop() joins the thread that reads its output: the last line is in by then
        assert "luma-mock stopped" in server.fake.stop()


def test_beyond_loopback_without_a_token_the_banner_says_the_dashboard_is_off() -> None:
    example = "curl …"
    assert "dashboard: off" in banner("http://[::]:8000", Settings(host="::"), example)
    with_token = banner("http://[::]:8000", Settings(host="::", control_token="t"), example)
    assert "dashboard: http://[::]:8000/__admin/" in with_token


def test_the_headers_gauges_count_the_dashboards_own_stream_and_stay_out_of_the_journal() -> None:
    """The page's header reads /health's gauges from /__admin/gauges every few seconds:
    the same numbers, with none of those polls in the journal (a poll of /health is)."""
    with live_server("--clock", "manual") as server:
        stream = open_events(server.url)
        read_events(stream, 1)  # the stream is open: its connection counts
        gauges = requests.get(server.url + "/__admin/gauges", timeout=10).json()
        health = requests.get(server.url + "/health", timeout=10).json()
        assert set(gauges) == {*health} - {"status", "tasks", "evicted", "clock"}
        for steady in ("held_calls", "callbacks_under_way", "max_connections"):
            assert gauges[steady] == health[steady], steady
        assert gauges["connections"] >= 2 and gauges["max_connections"] >= gauges["connections"]
        journal = requests.get(server.url + "/__admin/journal", timeout=10).json()
        paths = [entry["path"] for entry in journal["entries"]]
        assert paths == ["/health"]
