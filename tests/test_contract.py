"""The contract's Python API: readable verdicts, the error-code table, bundling, and
schema-driven generation agreeing with validation."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator

from contract_tests import contract
from contract_tests.acedata import strategies
from tests.support import refs

PROMPT = "Astronauts shuttle from space to volcano"
GENERATE = {"action": "generate", "prompt": PROMPT}
RESULT = contract.fixture("acedata/seed_result_basic").payload
MESSAGE_SCHEMAS = [n for n in contract.schema_names() if not n.endswith("/common")]

# (schema, payload, strict, the exact message): one case per kind of rule the schemas use.
MESSAGES = {
    "required": ("acedata/videos-request", {"action": "generate"}, False, "prompt is required"),
    "required-nested": (
        "acedata/error",
        {"success": False, "error": {"code": "api_error"}, "trace_id": "t"},
        False,
        "error.message is required",
    ),
    "type": (
        "acedata/videos-request",
        {**GENERATE, "timeout": "300"},
        False,
        "timeout: must be number, got string",
    ),
    "type-root": ("acedata/videos-request", [GENERATE], False, "must be object, got array"),
    "enum": (
        "acedata/videos-request",
        {**GENERATE, "aspect_ratio": "5:4"},
        False,
        'aspect_ratio: "5:4" is not one of 16:9, 9:16, 1:1, 4:3, 3:4, 21:9, 9:21',
    ),
    "const": (
        "acedata/videos-result",
        {**RESULT, "success": False},
        False,
        "success: must be true, got false",
    ),
    "url": (
        "acedata/videos-request",
        {**GENERATE, "callback_url": "ftp://x.example/hook"},
        False,
        'callback_url: "ftp://x.example/hook" is not an http(s) URL',
    ),
    "empty": (
        "acedata/videos-request",
        {**GENERATE, "prompt": ""},
        False,
        "prompt: must not be empty",
    ),
    "blank": (
        "acedata/videos-request",
        {**GENERATE, "prompt": " \t "},
        False,
        "prompt: must not be blank",
    ),
    "exclusiveMinimum": (
        "acedata/videos-request",
        {**GENERATE, "timeout": 0},
        False,
        "timeout: must be greater than 0, got 0",
    ),
    "minItems": (
        "acedata/tasks-request",
        {"action": "retrieve_batch", "ids": []},
        False,
        "ids: must have at least 1 item(s)",
    ),
    "strict-unknown": (
        "acedata/videos-request",
        {**GENERATE, "model": "ray-2", "image_urls": []},
        True,
        "unknown field(s): image_urls, model",
    ),
    "extend-anyOf": (
        "acedata/videos-request",
        {"action": "extend", "prompt": PROMPT},
        False,
        "video_id or video_url is required",
    ),
    "oneOf-of-consts": (
        "acedata/error",
        {"success": False, "error": {"code": "nope", "message": "m"}, "trace_id": "t"},
        False,
        'error.code: "nope" is not one of ' + ", ".join(contract.error_codes("acedata/error")),
    ),
    # a failed callback without task_id is about task_id, not "success must be true"
    "anyOf-closest": (
        "acedata/callback",
        {"success": False, "error": {"code": "api_error", "message": "m"}, "trace_id": "t"},
        False,
        "task_id is required",
    ),
}


@pytest.mark.parametrize("case", MESSAGES.values(), ids=MESSAGES.keys())
def test_message_is_readable(case: tuple[str, Any, bool, str]) -> None:
    name, payload, strict, message = case
    verdict = contract.check(name, payload, strict=strict)
    assert not verdict.ok
    assert verdict.message == message
    assert verdict.schema == name


def test_tied_alternatives_are_all_named() -> None:
    record = dict(contract.fixture("acedata/task_finished_completed").payload)
    del record["finished_at"]
    message = contract.check("acedata/task-record", record).message
    assert message.startswith("either ")
    assert "finished_at is required" in message
    assert "response.state" in message


def test_message_never_dumps_a_large_payload() -> None:
    record = contract.fixture("acedata/task_finished_completed").payload
    bad = {**record, "response": {"whatever": "x" * 500}}
    assert len(contract.check("acedata/task-record", bad).message) < 300


def test_valid_payload_has_no_problems() -> None:
    verdict = contract.check("acedata/videos-request", GENERATE)
    assert verdict.ok
    assert verdict.problems == ()
    assert verdict.message == ""


def test_every_problem_is_reported() -> None:
    verdict = contract.check("acedata/videos-request", {"timeout": 0, "loop": "yes"})
    reasons = {str(p) for p in verdict.problems}
    assert {"prompt is required", "loop: must be boolean, got string"} <= reasons
    assert any(r.startswith("timeout:") for r in reasons)


def test_unknown_fields_are_reported_but_accepted_by_default() -> None:
    payload = {**GENERATE, "model": "ray-2", "image_urls": ["https://x.example/a.png"]}
    verdict = contract.check("acedata/videos-request", payload)
    assert verdict.ok
    assert verdict.unknown_fields == ("image_urls", "model")
    assert contract.unknown_fields("acedata/videos-request", payload) == ("image_urls", "model")
    assert contract.check("acedata/videos-request", payload, strict=True).unknown_fields


def test_unknown_fields_of_non_objects_and_shapeless_schemas() -> None:
    assert contract.unknown_fields("acedata/videos-request", [GENERATE]) == ()
    assert contract.unknown_fields("acedata/videos-request", GENERATE) == ()
    # callback is an anyOf of two shapes: no top-level properties to compare against
    assert contract.unknown_fields("acedata/callback", {"anything": 1}) == ()


def test_strict_needs_top_level_properties() -> None:
    with pytest.raises(ValueError):
        contract.load_schema("acedata/callback", strict=True)


def test_unknown_names_raise_key_error() -> None:
    with pytest.raises(KeyError):
        contract.load_schema("no-such-schema")
    with pytest.raises(KeyError):
        contract.fixture("no-such-fixture")


# CONTRACT.md, "Errors": the HTTP status of each documented code, plus the 404 decision.
CONTRACT_STATUS = {
    "bad_request": 400,
    "token_mismatched": 400,
    "api_not_implemented": 400,
    "invalid_token": 401,
    "forbidden": 403,
    "used_up": 403,
    "too_many_requests": 429,
    "api_error": 500,
    "timeout": 504,
    "not_found": 404,
}
# CONTRACT.md quotes these messages verbatim (the provider's current OpenAPI where it has
# one: bad_request, api_error, timeout).
CONTRACT_MESSAGES = {
    "bad_request": "The json payload is not valid to request the API",
    "token_mismatched": "The specified token is not matched with API.",
    "api_not_implemented": "The API is not implemented.",
    "invalid_token": "The specified token is invalid or wrong.",
    "forbidden": (
        "Sorry! Our Al moderators feel your prompt might be against our community standards."
    ),
    "used_up": "Balance insufficient",
    "too_many_requests": "You have exceeded the rate limit.",
    "api_error": "Internal server error.",
    "timeout": "Timeout to generate the image.",
}


def test_error_codes_agree_with_the_contract() -> None:
    codes = contract.error_codes("acedata/error")
    for code, status in CONTRACT_STATUS.items():
        assert codes[code].status == status, code
    for code, message in CONTRACT_MESSAGES.items():
        assert codes[code].message == message, code
    # clients also know these; the status is the project's decision, but they must exist
    assert {"token_expired", "no_token", "disabled"} <= set(codes)


def test_error_codes_are_well_formed() -> None:
    for code, info in contract.error_codes("acedata/error").items():
        assert info.code == code
        assert 400 <= info.status < 600
        assert info.message


@pytest.mark.parametrize("name", contract.schema_names())
def test_bundled_has_no_refs(name: str) -> None:
    assert refs(contract.bundled(name)) == []


def test_bundled_keeps_the_annotations() -> None:
    codes = contract.bundled("acedata/error")["properties"]["error"]["properties"]["code"]["oneOf"]
    assert all("x-status" in c and "x-message" in c for c in codes)


def _unbundled(name: str, strict: bool) -> Draft202012Validator:
    return Draft202012Validator(
        contract.load_schema(name, strict=strict), registry=contract.registry()
    )


@pytest.mark.parametrize("fx", contract.fixtures(), ids=[f.name for f in contract.fixtures()])
def test_bundled_validates_like_the_original(fx: contract.Fixture) -> None:
    bundled = Draft202012Validator(contract.bundled(fx.schema, strict=fx.strict))
    original = _unbundled(fx.schema, fx.strict)
    assert bundled.is_valid(fx.payload) == original.is_valid(fx.payload) == fx.valid


def test_load_schema_returns_a_copy() -> None:
    first = contract.load_schema("acedata/videos-request")
    first["properties"]["prompt"] = {"type": "integer"}
    first["required"].append("nonsense")
    first["title"] = "changed"
    again = contract.load_schema("acedata/videos-request")
    assert again["title"] == "VideosRequest"
    assert again["required"] == ["prompt"]
    assert contract.check("acedata/videos-request", GENERATE).ok


def test_bundled_returns_a_copy() -> None:
    contract.bundled("acedata/videos-request")["properties"].clear()
    assert contract.bundled("acedata/videos-request")["properties"]


def test_validator_is_reused() -> None:
    assert contract.validator("acedata/videos-request") is contract.validator(
        "acedata/videos-request"
    )
    assert contract.validator("acedata/videos-request") is not contract.validator(
        "acedata/videos-request", strict=True
    )


# Schema-driven generation: whatever the schema describes, check() must accept.
GENERATION = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _generation_schema(name: str, strict: bool = False) -> dict[str, Any]:
    schema = contract.bundled(name, strict=strict)
    if name == "acedata/tasks-batch":
        # each item is a whole task record; a few per batch keep this test at ~1 s
        schema["properties"]["items"]["maxItems"] = 3
    return schema


@pytest.mark.parametrize("name", MESSAGE_SCHEMAS)
def test_generated_payloads_are_accepted(name: str) -> None:
    @GENERATION
    @given(from_schema(_generation_schema(name)))
    def accepted(payload: Any) -> None:
        verdict = contract.check(name, payload)
        assert verdict.ok, verdict.message

    accepted()


@pytest.mark.parametrize(
    "name", ["acedata/videos-request", "acedata/videos-result", "acedata/tasks-request"]
)
def test_generated_strict_payloads_are_accepted_and_have_no_unknown_fields(name: str) -> None:
    @GENERATION
    @given(from_schema(_generation_schema(name, strict=True)))
    def accepted(payload: Any) -> None:
        verdict = contract.check(name, payload, strict=True)
        assert verdict.ok, verdict.message
        assert verdict.unknown_fields == ()

    accepted()


# The compiled engine (contract.accepter) answers "valid?" first; jsonschema is the
# reference. Wherever the first could say yes and the reference no, the fake would
# accept what the contract refuses — so the two are held to agreement here.


def _agree(name: str, payload: Any, strict: bool = False) -> None:
    reference = contract.validator(name, strict=strict).is_valid(payload)
    assert contract.accepter(name, strict=strict).is_valid(payload) == reference, payload
    assert contract.check(name, payload, strict=strict).ok == reference


@pytest.mark.parametrize("fx", contract.fixtures(), ids=[f.name for f in contract.fixtures()])
def test_both_engines_agree_on_every_fixture(fx: contract.Fixture) -> None:
    _agree(fx.schema, fx.payload, fx.strict)


@pytest.mark.parametrize("name", MESSAGE_SCHEMAS)
def test_both_engines_agree_on_generated_payloads(name: str) -> None:
    @GENERATION
    @given(from_schema(_generation_schema(name)))
    def agree(payload: Any) -> None:
        _agree(name, payload)

    agree()


def test_both_engines_agree_on_requests_that_break_a_rule() -> None:
    @settings(GENERATION, max_examples=200)
    @given(strategies.invalid_requests())
    def agree(case: strategies.Invalid) -> None:
        if case.raw is None:
            _agree(case.schema, case.body)

    agree()


def test_both_engines_agree_on_any_json_in_any_field() -> None:
    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner),
        max_leaves=8,
    )

    @settings(GENERATION, max_examples=300)
    @given(
        name=st.sampled_from(["acedata/videos-request", "acedata/tasks-request"]),
        field=st.sampled_from(
            [
                "prompt",
                "action",
                "aspect_ratio",
                "video_id",
                "video_url",
                "start_image_url",
                "callback_url",
                "timeout",
                "loop",
                "async",
                "id",
                "ids",
                "model",
            ]
        ),
        value=values,
    )
    def agree(name: str, field: str, value: Any) -> None:
        base = (
            {"prompt": "x"}
            if name == "acedata/videos-request"
            else {"action": "retrieve", "id": "i"}
        )
        _agree(name, {**base, field: value})

    agree()


def test_a_value_that_is_not_json_is_left_to_the_reference() -> None:
    verdict = contract.check("acedata/videos-request", {"prompt": b"bytes are no JSON"})
    assert not verdict.ok and "prompt" in verdict.message


def test_very_deep_values_are_checked_without_crashing() -> None:
    deep: Any = []
    for _ in range(100_000):  # far deeper than any JSON parser hands over
        deep = [deep]
    assert contract.check("acedata/videos-request", {"prompt": "x", "extra": deep}).ok
