"""The HTTP layer in process (Flask's test client): every endpoint, mode and bad input."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder, TestResponse
from werkzeug.wrappers import Response

from contract_tests.contract import check
from mock_server.acedata.service import LumaService
from mock_server.web.app import create_app
from tests import media_probe
from tests.support import AUTH, PROMPT, instant_service, manual_service


@pytest.fixture
def luma() -> Iterator[LumaService]:
    service = instant_service()
    yield service
    service.close()


@pytest.fixture
def client(luma: LumaService) -> FlaskClient:
    return create_app(luma).test_client()


def post(client: FlaskClient, path: str, body: object, **kwargs: Any) -> TestResponse:
    kwargs.setdefault("headers", AUTH)
    return client.post(path, json=body, **kwargs)


def assert_envelope(response: TestResponse, status: int, code: str, mentions: str = "") -> None:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert check("acedata/error", body).ok, body
    assert body["error"]["code"] == code
    assert mentions in body["error"]["message"]
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": PROMPT},
        {"prompt": PROMPT, "action": "generate", "start_image_url": "https://cdn.test/a.png"},
        {"prompt": PROMPT, "end_image_url": "https://cdn.test/b.png", "aspect_ratio": "9:21"},
        {
            "prompt": PROMPT,
            "start_image_url": "https://cdn.test/a.png",
            "end_image_url": "https://cdn.test/b.png",
            "loop": True,
            "enhancement": False,
            "timeout": 300.0,
            "model": "unknown fields are accepted",
        },
    ],
)
def test_generate_synchronously_answers_the_documented_result(
    client: FlaskClient, body: dict
) -> None:
    response = post(client, "/luma/videos", body)
    assert response.status_code == 200
    result = response.get_json()
    assert check("acedata/videos-result", result).ok
    assert result["prompt"] == PROMPT
    assert result["video_url"] == f"http://localhost/luma/{result['task_id']}.mp4"
    assert result["thumbnail_url"].endswith(f"/luma/{result['task_id']}.jpg")


def test_extend_by_id_by_url_and_with_an_end_frame(client: FlaskClient) -> None:
    first = post(client, "/luma/videos", {"prompt": PROMPT, "aspect_ratio": "21:9"}).get_json()
    for extra in (
        {"video_id": first["video_id"]},
        {"video_url": first["video_url"]},
        {"video_id": first["video_id"], "end_image_url": "https://cdn.test/end.png"},
    ):
        response = post(client, "/luma/videos", {"action": "extend", "prompt": PROMPT, **extra})
        result = response.get_json()
        assert response.status_code == 200 and check("acedata/videos-result", result).ok
        assert (result["video_width"], result["video_height"]) == (1552, 656)
        assert result["task_id"] != first["task_id"]


def test_async_then_poll_retrieve_and_retrieve_batch(client: FlaskClient) -> None:
    accepted = post(client, "/luma/videos", {"prompt": PROMPT, "async": True}).get_json()
    assert check("acedata/videos-accepted", accepted).ok
    record = post(client, "/luma/tasks", {"action": "retrieve", "id": accepted["task_id"]})
    assert record.status_code == 200 and check("acedata/task-record", record.get_json()).ok
    assert record.get_json()["request"] == {"prompt": PROMPT, "async": True}
    batch = post(
        client, "/luma/tasks", {"action": "retrieve_batch", "ids": [accepted["task_id"]]}
    ).get_json()
    assert batch["count"] == 1 and check("acedata/tasks-batch", batch).ok


def test_a_running_record_holds_only_task_id_and_state() -> None:
    luma = manual_service()
    client = create_app(luma).test_client()
    task_id = post(
        client,
        "/luma/videos",
        {"prompt": PROMPT, "async": True, "start_image_url": "https://cdn.test/first.png"},
    ).get_json()["task_id"]
    record = post(client, "/luma/tasks", {"action": "retrieve", "id": task_id}).get_json()
    assert record["response"] == {"task_id": task_id, "state": "pending"}


@pytest.mark.parametrize("aspect_ratio", ["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21"])
def test_media_urls_serve_real_files_of_the_stated_size(
    client: FlaskClient, aspect_ratio: str
) -> None:
    result = post(client, "/luma/videos", {"prompt": PROMPT, "aspect_ratio": aspect_ratio})
    result = result.get_json()
    video = client.get(result["video_url"])
    assert video.status_code == 200 and video.mimetype == "video/mp4"
    assert media_probe.video_size(video.data) == (result["video_width"], result["video_height"])
    thumb = client.get(result["thumbnail_url"])
    assert thumb.mimetype == "image/jpeg"
    assert media_probe.jpeg_size(thumb.data) == (
        result["thumbnail_width"],
        result["thumbnail_height"],
    )
    partial = client.get(result["video_url"], headers={"Range": "bytes=0-99"})
    assert partial.status_code == 206 and len(partial.data) == 100


def test_media_of_unknown_or_unfinished_tasks_is_404() -> None:
    luma = manual_service()
    client = create_app(luma).test_client()
    task_id = post(client, "/luma/videos", {"prompt": PROMPT, "async": True}).get_json()["task_id"]
    assert_envelope(client.get(f"/luma/{task_id}.mp4"), 404, "not_found")
    assert_envelope(client.get("/luma/nope.jpg"), 404, "not_found")


def test_public_url_setting_builds_the_media_urls() -> None:
    luma = instant_service(public_url="https://videos.example.test/base/")
    client = create_app(luma).test_client()
    result = post(client, "/luma/videos", {"prompt": PROMPT}).get_json()
    assert result["video_url"].startswith("https://videos.example.test/base/luma/")


def test_health_and_openapi(client: FlaskClient) -> None:
    health = client.get("/health")
    assert health.status_code == 200 and health.get_json()["status"] == "ok"
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.1") and "/luma/videos" in document["paths"]


def test_missing_or_wrong_token_is_401(client: FlaskClient) -> None:
    assert_envelope(client.post("/luma/videos", json={"prompt": PROMPT}), 401, "invalid_token")
    wrong = {"Authorization": "Token abc"}
    assert_envelope(post(client, "/luma/tasks", {}, headers=wrong), 401, "invalid_token")


@pytest.mark.parametrize(
    ("data", "content_type", "mentions"),
    [
        ("{", "application/json", "not valid JSON"),
        ("", "application/json", "not valid JSON"),
        ('{"prompt": NaN}', "application/json", "NaN"),
        ('{"prompt": "x", "timeout": 1e999}', "application/json", "out of range"),
        ("[" * 50_000, "application/json", "nested too deeply"),
        (b"\xff\xfe\x00", "application/json", "UTF-8"),
        ('{"prompt": "x"}', "text/plain", "content-type"),
        ('{"prompt": "x"}', None, "content-type"),
        ("[]", "application/json", "must be object"),
        ('"just a string"', "application/json", "must be object"),
        ('{"prompt": 42}', "application/json", "prompt"),
        ('{"prompt": "x", "async": "true"}', "application/json", "async"),
    ],
)
def test_malformed_bodies_are_bad_requests_that_say_what_is_wrong(
    client: FlaskClient, data: object, content_type: str | None, mentions: str
) -> None:
    response = client.post("/luma/videos", data=data, content_type=content_type, headers=AUTH)
    assert_envelope(response, 400, "bad_request", mentions)


def test_depth_is_refused_whatever_the_recursion_limit(client: FlaskClient) -> None:
    """A library may raise the interpreter's recursion limit (py_ecc, under eth-account,
    sets 100,000 when `serve --x402` loads it): a deep body is still a 400, measured
    before the decoder could recurse into it, valid JSON or not."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, 100_000))
    try:
        for body in ("[" * 60_000, "[" * 40 + "]" * 40, '{"a":' * 40 + "1" + "}" * 40):
            response = client.post(
                "/luma/videos", data=body, content_type="application/json", headers=AUTH
            )
            assert_envelope(response, 400, "bad_request", "nested too deeply")
        # Brackets inside strings are not nesting.
        fine = {"prompt": "[" * 100 + '\\"{' * 50}
        assert post(client, "/luma/videos", fine).status_code != 400
    finally:
        sys.setrecursionlimit(before)


def test_bad_task_requests(client: FlaskClient) -> None:
    assert_envelope(post(client, "/luma/tasks", {"action": "retrieve"}), 400, "bad_request", "id")
    assert_envelope(post(client, "/luma/tasks", {"action": "nope"}), 400, "bad_request", "action")
    assert_envelope(
        post(client, "/luma/tasks", {"action": "retrieve", "id": "missing"}), 404, "not_found"
    )


def test_oversized_body_unknown_path_and_wrong_method(client: FlaskClient) -> None:
    huge = b'{"prompt": "' + b"x" * 2_000_000 + b'"}'
    response = client.post("/luma/videos", data=huge, content_type="application/json", headers=AUTH)
    assert_envelope(response, 413, "request_too_large")
    assert_envelope(client.get("/luma/somewhere/else"), 404, "not_found", "/luma/somewhere/else")
    wrong = client.get("/luma/videos")
    assert_envelope(wrong, 405, "method_not_allowed", "GET")
    assert "POST" in wrong.headers["Allow"]
    assert_envelope(client.delete("/luma/tasks"), 405, "method_not_allowed")


def test_an_unexpected_failure_is_an_envelope_without_a_trace(
    client: FlaskClient, luma: LumaService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(luma, "handle", broken)
    response = post(client, "/luma/videos", {"prompt": PROMPT})
    assert_envelope(response, 500, "api_error")
    assert "boom" not in response.get_data(as_text=True)
    monkeypatch.undo()
    assert post(client, "/luma/tasks", {"action": "retrieve", "id": "x"}).status_code == 404


def test_an_unpaired_surrogate_in_a_prompt_is_kept_and_echoed_escaped(client: FlaskClient) -> None:
    raw = b'{"prompt": "lone \\ud800 half", "async": true}'
    accepted = client.post(
        "/luma/videos", data=raw, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert accepted.status_code == 200
    record = post(client, "/luma/tasks", {"action": "retrieve", "id": accepted.json["task_id"]})
    assert record.status_code == 200
    assert b"lone \\ud800 half" in record.data  # escaped: no UTF-8 can carry it
    assert record.get_json()["request"]["prompt"] == "lone \ud800 half"


@pytest.mark.parametrize(
    ("length", "status"), [("", 200), ("not a number", 200), ("99999999999999999999", 413)]
)
def test_an_odd_content_length_from_a_wsgi_server_is_no_500(
    luma: LumaService, length: str, status: int
) -> None:
    body = b'{"prompt": "a body of unsure length", "async": true}'
    environ = EnvironBuilder(
        "/luma/videos", method="POST", data=body, headers=AUTH, content_type="application/json"
    ).get_environ()
    environ["CONTENT_LENGTH"] = length  # as some server might pass it on
    answer = Response.from_app(create_app(luma), environ)
    assert answer.status_code == status, answer.data
