"""The fake takes what the provider's current clients send, the way the provider does:
optional fields sent as null, a retrieve without ``action``, a base URL that ends in a
slash; its records have the documented shape (``_id``), and its messages are the ones the
provider's current OpenAPI documents."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from contract_tests.contract import check, error_codes, fixture
from mock_server.acedata.service import LumaService
from mock_server.web.app import create_app
from tests.support import (
    AUTH,
    PROMPT,
    InThread,
    LiveServer,
    instant_service,
    live_server,
    manual_service,
)

# What the provider's MCP server (mcp-luma) sends for "a cat" when nothing else is set.
MCP_BODY = {
    "action": "generate",
    "prompt": "a cat",
    "aspect_ratio": "16:9",
    "loop": False,
    "enhancement": True,
    "timeout": None,
    "callback_url": None,
    "async": True,
}


@pytest.fixture
def luma() -> Iterator[LumaService]:
    service = instant_service()
    yield service
    service.close()


@pytest.fixture
def client(luma: LumaService) -> FlaskClient:
    return create_app(luma).test_client()


def post(client: FlaskClient, path: str, body: object) -> Any:
    return client.post(path, json=body, headers=AUTH)


# -- null means "not given" -----------------------------------------------------------


def test_the_mcp_servers_body_with_nulls_makes_a_video(
    luma: LumaService, client: FlaskClient
) -> None:
    accepted = post(client, "/luma/videos", MCP_BODY)
    assert accepted.status_code == 200, accepted.get_json()
    task_id = accepted.get_json()["task_id"]
    record = post(client, "/luma/tasks", {"action": "retrieve", "id": task_id}).get_json()
    assert record["request"] == MCP_BODY  # the body as posted, nulls and all
    assert record["response"]["state"] == "completed"
    assert (record["response"]["video_width"], record["response"]["video_height"]) == (1360, 752)
    assert luma.delivery(task_id) is None  # callback_url: null is no callback


@pytest.mark.parametrize(
    ("nulls", "expect"),
    [
        ({"aspect_ratio": None}, (1360, 752)),  # the default ratio, 16:9
        ({"action": None, "aspect_ratio": "9:21"}, (656, 1552)),  # action defaults to generate
        ({"start_image_url": None, "end_image_url": None, "loop": None}, (1360, 752)),
    ],
)
def test_a_null_optional_field_is_the_field_left_out(
    client: FlaskClient, nulls: dict[str, Any], expect: tuple[int, int]
) -> None:
    """Synchronous (``async`` and ``timeout`` null too): held until the result."""
    answer = post(
        client, "/luma/videos", {"prompt": PROMPT, "async": None, "timeout": None, **nulls}
    )
    assert answer.status_code == 200, answer.get_json()
    result = answer.get_json()
    assert check("acedata/videos-result", result).ok
    assert (result["video_width"], result["video_height"]) == expect


def test_extend_by_id_with_a_null_video_url(client: FlaskClient) -> None:
    made = post(client, "/luma/videos", {"prompt": PROMPT, "aspect_ratio": "21:9"}).get_json()
    body = {"action": "extend", "prompt": "on", "video_id": made["video_id"], "video_url": None}
    extended = post(client, "/luma/videos", {**body, "end_image_url": None})
    assert extended.status_code == 200, extended.get_json()
    assert extended.get_json()["video_width"] == 1552  # it keeps its source's size


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"prompt": None}, "prompt is required"),
        (
            {"action": "extend", "prompt": "on", "video_id": None},
            "video_id or video_url is required",
        ),
        ({"prompt": PROMPT, "timeout": "soon"}, "timeout: must be number, got string"),
    ],
)
def test_a_null_required_field_is_missing(client: FlaskClient, body: Any, words: str) -> None:
    answer = post(client, "/luma/videos", body)
    assert answer.status_code == 400
    assert answer.get_json()["error"] == {"code": "bad_request", "message": words}


def test_a_scenario_rule_sees_a_null_field_as_left_out(
    luma: LumaService, client: FlaskClient
) -> None:
    luma.scenarios.add({"match": {"action": "generate"}, "then": {"reject": "forbidden"}})
    luma.scenarios.add({"match": {"action": "retrieve"}, "then": {"reject": "api_error"}})
    refused = post(client, "/luma/videos", {**MCP_BODY, "action": None})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    retrieve = post(client, "/luma/tasks", {"id": "any", "action": None})
    assert retrieve.status_code == 500 and retrieve.get_json()["error"]["code"] == "api_error"


# -- POST /luma/tasks: action defaults to retrieve ------------------------------------


def test_retrieve_is_the_default_action(client: FlaskClient) -> None:
    task_id = post(client, "/luma/videos", MCP_BODY).get_json()["task_id"]
    for body in ({"id": task_id}, {"id": task_id, "action": None}):
        record = post(client, "/luma/tasks", body)
        assert record.status_code == 200, record.get_json()
        assert record.get_json()["id"] == task_id
    missing = post(client, "/luma/tasks", {"id": "no-such-task"})
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    no_id = post(client, "/luma/tasks", {})
    assert no_id.status_code == 400 and no_id.get_json()["error"]["message"] == "id is required"


# -- the documented record ------------------------------------------------------------


def test_records_have_the_documented_shape_with_an_id_of_their_own(client: FlaskClient) -> None:
    ids = [post(client, "/luma/videos", MCP_BODY).get_json()["task_id"] for _ in range(3)]
    batch = post(client, "/luma/tasks", {"action": "retrieve_batch", "ids": ids}).get_json()
    documented = set(fixture("acedata/provider_task_record").payload)
    record_ids = set()
    for record in batch["items"]:
        assert check("acedata/task-record", record).ok
        assert documented <= set(record), documented - set(record)
        assert re.fullmatch("[0-9a-f]{24}", record["_id"]), record["_id"]
        record_ids.add(record["_id"])
    assert len(record_ids) == 3


def test_record_ids_are_seeded_and_start_with_the_creation_second() -> None:
    def first_record_id() -> str:
        luma = manual_service()
        task = luma.create_video({"prompt": PROMPT}, token="t", base_url="http://x")
        record_id = luma.record(task)["_id"]
        luma.close()
        return record_id

    record_id = first_record_id()
    assert record_id == first_record_id()
    assert int(record_id[:8], 16) == 1_700_000_000  # the manual clock's start


def test_the_documented_record_and_batch_pass_the_schemas() -> None:
    assert check("acedata/task-record", fixture("acedata/provider_task_record").payload).ok
    batch = fixture("acedata/provider_tasks_batch").payload
    assert check("acedata/tasks-batch", batch).ok
    assert all("started_at" not in item and "elapsed" not in item for item in batch["items"])


# -- the provider's documented messages -----------------------------------------------


def test_a_sync_call_past_its_timeout_has_the_providers_504_message() -> None:
    luma = manual_service()
    client = create_app(luma).test_client()
    held = InThread(post, client, "/luma/videos", {"prompt": PROMPT, "timeout": 5})
    luma.wait_until(lambda: len(luma.store) == 1)
    luma.advance(5)
    answer = held.join()
    assert answer.status_code == 504
    assert answer.get_json()["error"] == {
        "code": "timeout",
        "message": "Timeout to generate the image.",
    }
    luma.close()


def test_a_scenario_failure_without_a_message_has_the_documented_one(
    luma: LumaService, client: FlaskClient
) -> None:
    luma.scenarios.add({"then": {"reject": "api_error"}})
    answer = post(client, "/luma/videos", MCP_BODY)
    assert answer.status_code == 500
    assert answer.get_json()["error"]["message"] == "Internal server error."
    assert (
        error_codes("acedata/error")["bad_request"].message
        == "The json payload is not valid to request the API"
    )


# -- a base URL that ends in a slash --------------------------------------------------


def test_repeated_slashes_read_as_one_in_process(client: FlaskClient) -> None:
    # Set as the server would pass it: the test client reads "//luma" as a host name.
    def at(path: str) -> dict[str, Any]:
        return {"environ_overrides": {"PATH_INFO": path}, "headers": AUTH}

    accepted = client.post("/", json=MCP_BODY, **at("//luma/videos"))
    assert accepted.status_code == 200, accepted.get_json()
    task_id = accepted.get_json()["task_id"]
    record = client.post("/", json={"id": task_id}, **at("//luma//tasks"))
    assert record.get_json()["id"] == task_id
    assert client.get("/", **at(f"//luma///{task_id}.mp4")).status_code == 200
    assert client.get("/", **at("//health")).get_json()["status"] == "ok"


@pytest.fixture(scope="module")
def served() -> Iterator[LiveServer]:
    with live_server("--delay", "instant") as running:
        yield running


def _raw_post(url: str, path: str, body: bytes) -> bytes:
    """A request line exactly as a client with a trailing-slash base URL writes it
    (requests would tidy the path first)."""
    host, port = url.removeprefix("http://").split(":")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {AUTH['Authorization']}"
        f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_repeated_slashes_read_as_one_on_a_real_socket(served: LiveServer) -> None:
    answer = _raw_post(served.url, "//luma/videos", b'{"prompt": "a cat", "async": null}')
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    task_id = re.search(rb'"task_id":"([^"]+)"', answer)
    assert task_id is not None
    record = _raw_post(served.url, "//luma/tasks", b'{"id": "%s"}' % task_id.group(1))
    assert record.startswith(b"HTTP/1.1 200 ") and b'"_id":' in record, record[:300]
