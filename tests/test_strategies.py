"""The strategies make what they say: valid requests of every shape and mode that the
contract accepts, invalid ones that it refuses for the rule they are labelled with, and
URLs that never point at a real host."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract_tests import contract
from contract_tests.acedata import strategies as S

RECEIVER = "http://127.0.0.1:9/callback"
FEW = settings(max_examples=15, derandomize=True, database=None, deadline=None)

URL_FIELDS = ("start_image_url", "end_image_url", "video_url", "callback_url")


def _reserved(host: str) -> bool:
    """Loopback, or a name reserved for tests and documentation (RFC 2606)."""
    return host == "127.0.0.1" or host.endswith((".test", "example.com", "example.org"))


def _assert_valid(posted: dict[str, Any]) -> dict[str, Any]:
    """``posted`` is valid and points only at reserved hosts; its given fields (a null
    one is not given) come back for the shape checks."""
    verdict = contract.check("acedata/videos-request", posted)
    assert verdict.ok, (posted, verdict.message)
    body = contract.given(posted)
    hosts = [urlsplit(body[k]).hostname or "" for k in URL_FIELDS if k in body]
    assert all(_reserved(host) for host in hosts), body
    return body


@pytest.mark.parametrize("mode", S.MODES)
@pytest.mark.parametrize("frames", S.FRAMES)
def test_generate_requests_are_valid_and_have_their_shape(frames: str, mode: str) -> None:
    @FEW
    @given(S.generate_requests(frames=frames, mode=mode, callback_url=RECEIVER))  # type: ignore[arg-type]
    def check(posted: dict[str, Any]) -> None:
        body = _assert_valid(posted)
        assert ("start_image_url" in body) == (frames in ("first", "both"))
        assert ("end_image_url" in body) == (frames in ("last", "both"))
        assert body.get("action", "generate") == "generate"
        assert ("callback_url" in body) == (mode == "callback")
        assert (body.get("async") is True) == (mode == "async")
        if mode == "callback":
            assert body["callback_url"].startswith(RECEIVER + "?")

    check()


@pytest.mark.parametrize("mode", S.MODES)
@pytest.mark.parametrize("by", ["id", "url"])
def test_extend_requests_are_valid_and_use_the_videos_given(by: str, mode: str) -> None:
    made = ["video-1", "video-2"]
    sources = ["http://127.0.0.1:8000/luma/task-1.mp4"]

    @FEW
    @given(S.extend_requests(by=by, mode=mode, callback_url=RECEIVER, video_ids=made,  # type: ignore[arg-type]
                             video_urls=sources))  # fmt: skip
    def check(posted: dict[str, Any]) -> None:
        body = _assert_valid(posted)
        assert body["action"] == "extend"
        if by == "id":
            assert body["video_id"] in made and "video_url" not in body
        else:
            assert body["video_url"] in sources and "video_id" not in body

    check()


@FEW
@given(S.task_requests(["a", "b"]))
def test_task_requests_are_valid(body: dict[str, Any]) -> None:
    assert contract.check("acedata/tasks-request", body).ok
    assert set(body.get("ids", [body.get("id")])) <= {"a", "b"}


@FEW
@given(posted=S.video_requests())
def test_any_video_request_calls_back_only_to_reserved_hosts(posted: dict[str, Any]) -> None:
    body = _assert_valid(posted)
    if "callback_url" in body:
        assert body["callback_url"].startswith(S.DEFAULT_CALLBACK_URL)


def test_callback_urls_refuse_a_receiver_the_contract_would_refuse() -> None:
    with pytest.raises(ValueError, match="callback_url"):
        S.callback_urls("ftp://127.0.0.1/callback")


def test_enum_values_come_from_the_schema() -> None:
    schema = contract.bundled("acedata/videos-request")["properties"]["aspect_ratio"]
    (ratios,) = [branch for branch in schema["anyOf"] if "enum" in branch]
    assert S.enum_values("videos", "aspect_ratio") == tuple(ratios["enum"])


def test_valid_requests_also_send_unset_optional_fields_as_null() -> None:
    """As the provider's MCP server does: the bodies cover null optional fields (each one
    "not given"), and a mode's own fields are never null."""
    seen: set[str] = set()

    @settings(max_examples=200, derandomize=True, database=None, deadline=None)
    @given(S.video_requests(mode="async"), S.retrieve_requests())
    def check(videos: dict[str, Any], retrieve: dict[str, Any]) -> None:
        assert contract.check("acedata/videos-request", videos).ok
        assert contract.check("acedata/tasks-request", retrieve).ok
        assert videos["async"] is True and isinstance(retrieve["id"], str)
        seen.update(k for k, v in videos.items() if v is None)
        seen.update(f"tasks.{k}" for k, v in retrieve.items() if v is None)

    check()
    assert {"callback_url", "timeout", "loop", "action", "tasks.action"} <= seen


@pytest.mark.parametrize("rule", S.rules("videos") + S.rules("tasks"))
def test_each_invalid_request_fails_for_its_labelled_rule(rule: str) -> None:
    endpoint = "videos" if rule in S.rules("videos") else "tasks"

    @FEW
    @given(S.breaking(endpoint, rule))
    def check(invalid: S.Invalid) -> None:
        assert invalid.rule == rule and invalid.endpoint == endpoint
        verdict = contract.check(invalid.schema, invalid.body)
        assert not verdict.ok, invalid
        # one rule broken: the verdict's first problem is that rule
        assert invalid.expect in verdict.message, (invalid.body, verdict.message)
        assert invalid.payload() == json.dumps(invalid.body, ensure_ascii=False).encode()

    check()


@pytest.mark.parametrize("rule", S.rules("malformed"))
def test_malformed_bodies_are_not_json_objects(rule: str) -> None:
    @FEW
    @given(S.breaking("malformed", rule))
    def check(invalid: S.Invalid) -> None:
        assert invalid.rule == rule
        try:
            value = json.loads(invalid.payload().decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            assert rule in ("body-not-json", "body-not-utf8", "body-empty")
            return
        assert rule == "body-not-object" and not isinstance(value, dict)
        assert invalid.expect in contract.check(invalid.schema, value).message

    check()


def test_rules_cover_every_field_with_a_wrong_type() -> None:
    for name in contract.bundled("acedata/videos-request")["properties"]:
        assert f"{name.replace('_', '-')}-wrong-type" in S.RULES
    assert len(S.RULES) == len(set(S.RULES))


@FEW
@given(st.data())
def test_invalid_requests_mix_every_endpoint(data: st.DataObject) -> None:
    invalid = data.draw(S.invalid_requests())
    assert invalid.rule in S.RULES
    assert invalid.path in ("/luma/videos", "/luma/tasks")
