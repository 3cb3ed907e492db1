"""The control API under /__admin/: the Python controls over HTTP, in process and live."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from contract_tests.contract import check
from mock_server.acedata.service import LumaService
from mock_server.harness.receiver import CallbackReceiver
from mock_server.web.app import create_app
from tests.support import AUTH, PROMPT, TOKEN, InThread, LiveServer, live_server, manual_service

T0 = 1_700_000_000.0


@pytest.fixture
def luma() -> Iterator[LumaService]:
    service = manual_service()
    yield service
    service.close()


@pytest.fixture
def client(luma: LumaService) -> FlaskClient:
    return create_app(luma).test_client()


def api(client: FlaskClient, path: str, body: Any = None, **kwargs: Any) -> TestResponse:
    kwargs.setdefault("headers", AUTH)
    return client.post(path, json=body, **kwargs)


def control(client: FlaskClient, method: str, path: str, body: Any = None) -> Any:
    response = client.open(f"/__admin{path}", method=method, json=body)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def start_async(client: FlaskClient, **body: Any) -> str:
    return api(client, "/luma/videos", {"prompt": PROMPT, "async": True, **body}).get_json()[
        "task_id"
    ]


def test_time_moves_tasks_over_http(client: FlaskClient) -> None:
    assert control(client, "GET", "/clock") == {"now": T0, "manual": True}
    task_id = start_async(client)
    assert control(client, "GET", f"/tasks/{task_id}")["state"] == "pending"
    assert control(client, "POST", "/clock/advance", {"seconds": 2.5})["now"] == T0 + 2.5
    assert control(client, "GET", f"/tasks/{task_id}")["state"] == "processing"
    control(client, "POST", "/clock/advance", {"seconds": 60})
    view = control(client, "GET", f"/tasks/{task_id}")
    assert view["state"] == "completed" and view["record"]["finished_at"] == T0 + 62
    assert check("acedata/task-record", view["record"]).ok


def test_complete_and_fail_now(client: FlaskClient) -> None:
    done = start_async(client)
    assert control(client, "POST", f"/tasks/{done}/complete")["state"] == "completed"
    failed = start_async(client)
    view = control(client, "POST", f"/tasks/{failed}/fail", {"code": "forbidden"})
    assert view["state"] == "failed"
    assert view["record"]["response"]["error"]["code"] == "forbidden"
    bad = client.post(f"/__admin/tasks/{start_async(client)}/fail", json={"code": "oops"})
    assert bad.status_code == 400 and "oops" in bad.get_json()["error"]["message"]
    assert client.post("/__admin/tasks/nope/complete").status_code == 404


def test_a_real_clock_cannot_be_advanced() -> None:
    from tests.support import instant_service

    client = create_app(instant_service()).test_client()
    response = client.post("/__admin/clock/advance", json={"seconds": 1})
    assert response.status_code == 400
    assert "manual clock" in response.get_json()["error"]["message"]


def test_waiting_for_a_state_is_a_long_poll(client: FlaskClient, luma: LumaService) -> None:
    task_id = start_async(client)
    waiting = InThread(
        client.post, f"/__admin/tasks/{task_id}/wait", json={"state": "completed", "timeout": 10}
    )
    luma.advance(62)
    assert waiting.join().get_json()["state"] == "completed"
    late = client.post(
        f"/__admin/tasks/{start_async(client)}/wait", json={"state": "finished", "timeout": 0.05}
    )
    assert late.status_code == 504 and late.get_json()["error"]["code"] == "timeout"


def test_waiting_for_a_callback(client: FlaskClient, luma: LumaService) -> None:
    with CallbackReceiver() as receiver:
        task_id = start_async(client, callback_url=receiver.url)
        assert client.get(f"/__admin/tasks/{task_id}/callback").status_code == 404
        waiting = InThread(client.post, f"/__admin/tasks/{task_id}/callback/wait", json={})
        luma.advance(62)
        delivery = waiting.join().get_json()
    assert delivery["state"] == "delivered" and delivery["attempts"][0]["status"] == 200
    assert control(client, "GET", f"/tasks/{task_id}/callback") == delivery


def test_scenarios_are_added_listed_removed_and_reach_the_client(client: FlaskClient) -> None:
    rule = control(
        client,
        "POST",
        "/scenarios",
        {
            "name": "moderated",
            "match": {"prompt_contains": "volcano"},
            "then": {"reject": "forbidden"},
        },
    )
    assert rule["id"] == 1 and rule["name"] == "moderated"
    refused = api(client, "/luma/videos", {"prompt": PROMPT})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    assert control(client, "GET", "/scenarios")["rules"][0]["matched"] == 1
    assert control(client, "DELETE", "/scenarios/1") == {"removed": 1}
    assert api(client, "/luma/videos", {"prompt": PROMPT, "async": True}).status_code == 200
    assert client.delete("/__admin/scenarios/1").status_code == 404
    bad = client.post("/__admin/scenarios", json={"then": {"reject": "teapot"}})
    assert bad.status_code == 400 and "teapot" in bad.get_json()["error"]["message"]


def test_the_scenario_header_picks_the_rule(client: FlaskClient) -> None:
    control(
        client,
        "POST",
        "/scenarios",
        {
            "match": {"scenario": "slow-down"},
            "then": {"reject": "too_many_requests", "retry_after": 7},
        },
    )
    headers = {**AUTH, "X-Luma-Mock-Scenario": "slow-down"}
    limited = api(client, "/luma/videos", {"prompt": PROMPT}, headers=headers)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert api(client, "/luma/videos", {"prompt": PROMPT, "async": True}).status_code == 200


def test_the_journal_records_requests_with_verdicts_and_redacted_tokens(
    client: FlaskClient,
) -> None:
    api(client, "/luma/videos", {"prompt": PROMPT, "async": True, "model": "ray-2"})
    api(client, "/luma/videos", {"prompt": ""})
    client.get("/luma/nothing.mp4")
    entries = control(client, "GET", "/journal")["entries"]
    assert [e["status"] for e in entries] == [200, 400, 404]
    first = entries[0]
    assert first["verdict"]["ok"] and first["verdict"]["unknown_fields"] == ["model"]
    assert first["body"]["model"] == "ray-2" and first["answer"]["task_id"] == first["task_id"]
    assert first["headers"]["Authorization"] == "Bearer …oken"
    assert TOKEN not in json.dumps(entries)
    assert entries[1]["verdict"]["problems"][0] == "prompt: must not be empty"
    only_400 = control(client, "GET", "/journal?status=400")["entries"]
    assert [e["seq"] for e in only_400] == [entries[1]["seq"]]
    newer = control(client, "GET", f"/journal?since={entries[1]['seq']}")["entries"]
    assert [e["path"] for e in newer] == ["/luma/nothing.mp4"]
    assert client.get("/__admin/journal?colour=red").status_code == 400
    assert all(
        not e["path"].startswith("/__admin") for e in control(client, "GET", "/journal")["entries"]
    )


def test_waiting_for_a_request_is_a_long_poll(client: FlaskClient) -> None:
    """A wait answers as soon as an entry matches; a request is journaled when it arrives,
    so ``answered: true`` is what waits for its answer too."""
    waiting = InThread(
        client.post,
        "/__admin/journal/wait",
        json={"path": "/luma/tasks", "answered": True, "timeout": 10},
    )
    api(client, "/luma/tasks", {"action": "retrieve", "id": "missing"})
    entry = waiting.join().get_json()
    assert entry["path"] == "/luma/tasks" and entry["status"] == 404
    late = client.post("/__admin/journal/wait", json={"status": 418, "timeout": 0.05})
    assert late.status_code == 504


def test_credits_and_rate_limit_over_http(client: FlaskClient) -> None:
    control(client, "POST", "/balances", {"token": TOKEN, "credits": 1})
    assert api(client, "/luma/videos", {"prompt": PROMPT, "async": True}).status_code == 200
    used_up = api(client, "/luma/videos", {"prompt": PROMPT, "async": True})
    assert used_up.status_code == 403 and used_up.get_json()["error"]["code"] == "used_up"
    assert control(client, "GET", "/balances")["balances"] == [{"token": "…oken", "credits": 0.0}]
    control(client, "POST", "/balances", {"token": TOKEN, "credits": None})
    control(client, "POST", "/rate-limit", {"limit": "1/30"})
    assert api(client, "/luma/tasks", {"action": "retrieve", "id": "x"}).status_code == 404
    limited = api(client, "/luma/tasks", {"action": "retrieve", "id": "x"})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "30"
    assert client.post("/__admin/rate-limit", json={"limit": "lots"}).status_code == 400


def test_reset_over_http(client: FlaskClient) -> None:
    task_id = start_async(client)
    control(client, "POST", "/scenarios", {"then": {"reject": "api_error"}})
    control(client, "POST", "/clock/advance", {"seconds": 100})
    assert control(client, "POST", "/reset") == {"reset": True}
    assert control(client, "GET", "/clock")["now"] == T0
    assert control(client, "GET", "/scenarios")["rules"] == []
    assert control(client, "GET", "/journal")["count"] == 0
    assert client.get(f"/__admin/tasks/{task_id}").status_code == 404


def test_beyond_loopback_the_control_api_is_off_without_a_control_token() -> None:
    client = create_app(manual_service(host="0.0.0.0")).test_client()
    off = client.get("/__admin/clock")
    assert off.status_code == 404 and "control API is off" in off.get_json()["error"]["message"]
    assert api(client, "/luma/videos", {"prompt": PROMPT, "async": True}).status_code == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
def test_with_a_control_token_every_control_call_needs_it(host: str) -> None:
    client = create_app(manual_service(host=host, control_token="s3cret")).test_client()
    for headers in ({}, AUTH, {"Authorization": "Bearer wrong"}):
        denied = client.post("/__admin/reset", headers=headers)
        assert denied.status_code == 401 and denied.get_json()["error"]["code"] == "invalid_token"
    allowed = client.post("/__admin/reset", headers={"Authorization": "Bearer s3cret"})
    assert allowed.status_code == 200


# -- one live server shared by several tests, reset between them ------------------------


@pytest.fixture(scope="module")
def shared() -> Iterator[LiveServer]:
    with live_server("--clock", "manual", "--delay", "10") as server:
        yield server


@pytest.fixture
def fresh(shared: LiveServer) -> LiveServer:
    assert requests.post(shared.url + "/__admin/reset", timeout=10).json() == {"reset": True}
    return shared


@pytest.mark.parametrize("turn", ["first", "second"])
def test_two_tests_share_one_server_and_each_starts_clean(fresh: LiveServer, turn: str) -> None:
    # Each turn makes its own task and rule; after the reset neither sees the other's.
    journal = requests.get(fresh.url + "/__admin/journal", timeout=10).json()
    assert journal["count"] == 0
    assert requests.get(fresh.url + "/__admin/scenarios", timeout=10).json()["rules"] == []
    requests.post(
        fresh.url + "/__admin/scenarios",
        json={"match": {"scenario": turn}, "then": {"reject": "used_up"}},
        timeout=10,
    )
    task_id = fresh.post("/luma/videos", {"prompt": turn, "async": True}).json()["task_id"]
    record = fresh.post("/luma/tasks", {"action": "retrieve", "id": task_id}).json()
    assert (
        record["created_at"] == requests.get(fresh.url + "/__admin/clock", timeout=10).json()["now"]
    )


def test_scenario_outcomes_reach_a_real_http_client_unchanged(fresh: LiveServer) -> None:
    url = fresh.url
    requests.post(
        url + "/__admin/scenarios",
        json={
            "match": {"endpoint": "videos"},
            "then": [
                {"reject": "too_many_requests", "retry_after": 12},
                {"reject": "forbidden"},
                {"fail": "api_error", "message": "fetch failed", "after": 1},
            ],
        },
        timeout=10,
    )
    limited = fresh.post("/luma/videos", {"prompt": PROMPT})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "12"
    assert limited.json()["error"] == {
        "code": "too_many_requests",
        "message": "You have exceeded the rate limit.",
    }
    refused = fresh.post("/luma/videos", {"prompt": PROMPT})
    assert refused.status_code == 403 and refused.json()["error"]["message"].startswith(
        "Sorry! Our Al moderators"
    )
    held = InThread(fresh.post, "/luma/videos", {"prompt": PROMPT})
    # The call is held (synchronous); wait until its task exists, then move time.
    entry = requests.post(
        url + "/__admin/journal/wait",
        json={"path": "/luma/videos", "answered": False, "with_task": True, "timeout": 10},
        timeout=15,
    ).json()
    requests.post(url + "/__admin/clock/advance", json={"seconds": 60}, timeout=10)
    failed = held.join()
    assert failed.status_code == 500 and failed.json()["error"]["message"] == "fetch failed"
    final = requests.get(url + f"/__admin/tasks/{entry['task_id']}", timeout=10).json()
    assert final["state"] == "failed"


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/scenarios", {"match": {"prompt_contains": 5}, "then": {"succeed": True}}, "string"),
        ("/scenarios", {"match": 5, "then": {"succeed": True}}, "object"),
        ("/scenarios", {"then": {"fail": ["x"]}}, "documented"),
        ("/scenarios", {"then": {"fault": ["x"]}}, "unknown fault"),
        ("/delays", {"delay": {"preset": "nope"}}, "preset"),
        ("/clock/advance", {"seconds": 10**400}, "finite"),
        ("/balances", {"token": "t", "credits": 10**400}, "finite"),
    ],
)
def test_bad_control_bodies_are_400s_that_say_why(
    client: FlaskClient, path: str, body: Any, words: str
) -> None:
    answer = client.post(f"/__admin{path}", json=body)
    assert answer.status_code == 400, answer.get_json()
    assert words in answer.get_json()["error"]["message"]
    assert api(client, "/luma/videos", {"prompt": PROMPT, "async": True}).status_code == 200
