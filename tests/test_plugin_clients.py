"""One client test body, two client libraries, three ways to reach the fake: a
`requests` client and an httpx client pass the same assertions in process (responses /
httpx transport) and over a socket (luma_server)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Protocol

import httpx
import pytest
import requests
from flask import Flask, request
from werkzeug.serving import make_server


class VideoClient(Protocol):
    """What an application's own client of the API might look like."""

    def generate(self, prompt: str, **fields: Any) -> dict[str, Any]: ...
    def retrieve(self, task_id: str) -> dict[str, Any]: ...


class RequestsVideoClient:
    def __init__(self, base_url: str, token: str, session: requests.Session | None = None):
        self.base_url, self.session = base_url, session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.session.post(self.base_url + path, json=body, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def generate(self, prompt: str, **fields: Any) -> dict[str, Any]:
        return self._post("/luma/videos", {"prompt": prompt, **fields})

    def retrieve(self, task_id: str) -> dict[str, Any]:
        return self._post("/luma/tasks", {"action": "retrieve", "id": task_id})


class HttpxVideoClient:
    def __init__(self, base_url: str, token: str, transport: httpx.BaseTransport | None = None):
        self.client = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
            timeout=10,
        )

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.client.post(path, json=body)
        answer.raise_for_status()
        return answer.json()

    def generate(self, prompt: str, **fields: Any) -> dict[str, Any]:
        return self._post("/luma/videos", {"prompt": prompt, **fields})

    def retrieve(self, task_id: str) -> dict[str, Any]:
        return self._post("/luma/tasks", {"action": "retrieve", "id": task_id})


@pytest.fixture(params=["requests+responses", "httpx+transport", "requests+server", "httpx+server"])
def video_client(request: pytest.FixtureRequest) -> VideoClient:
    library, where = request.param.split("+")
    if where == "server":
        server = request.getfixturevalue("luma_server")
        url, token = server.url, server.token
        return (
            RequestsVideoClient(url, token)
            if library == "requests"
            else HttpxVideoClient(url, token)
        )
    if library == "requests":
        fake = request.getfixturevalue("luma_responses")
        return RequestsVideoClient(fake.url, fake.token)
    fake = request.getfixturevalue("luma_fake")
    transport = request.getfixturevalue("luma_httpx_transport")
    return HttpxVideoClient(fake.url, fake.token, transport)


def test_the_same_assertions_hold_everywhere(video_client: VideoClient) -> None:
    result = video_client.generate("a cat on the moon", aspect_ratio="9:16")
    assert result["state"] == "completed"
    assert (result["video_width"], result["video_height"]) == (752, 1360)
    accepted = video_client.generate("a dog", **{"async": True})
    record = video_client.retrieve(accepted["task_id"])
    assert record["id"] == accepted["task_id"]
    assert record["response"]["state"] == "completed"  # instant tasks by default
    with pytest.raises((requests.HTTPError, httpx.HTTPStatusError)) as raised:
        video_client.generate("")
    assert "400" in str(raised.value)


# -- the README's end-to-end example: an application's own callback endpoint ---------------


def make_application(results: dict[str, Any], arrived: threading.Event) -> Flask:
    """An application that receives Luma callbacks and keeps the finished videos."""
    app = Flask("application")

    @app.post("/hooks/luma")
    def luma_finished() -> tuple[str, int]:
        body = request.get_json()
        results[body["task_id"]] = body
        arrived.set()
        return "", 204

    return app


@pytest.fixture
def application_url() -> Iterator[tuple[str, dict[str, Any], threading.Event]]:
    results: dict[str, Any] = {}
    arrived = threading.Event()
    server = make_server("127.0.0.1", 0, make_application(results, arrived), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", results, arrived
    server.shutdown()


@pytest.mark.luma(clock="manual", delay=90)
def test_the_application_receives_the_finished_video(
    luma_server: Any, application_url: tuple[str, dict[str, Any], threading.Event]
) -> None:
    url, results, arrived = application_url
    client = RequestsVideoClient(luma_server.url, luma_server.token)
    task_id = client.generate("a cat", callback_url=f"{url}/hooks/luma")["task_id"]
    assert results == {}
    luma_server.advance(90)  # a minute and a half of generation, in no time
    delivery = luma_server.wait_for_callback(task_id)
    assert delivery["state"] == "delivered"
    assert arrived.is_set() and results[task_id]["state"] == "completed"
