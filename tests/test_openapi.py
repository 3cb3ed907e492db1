"""The OpenAPI document assembled from the schemas: valid OpenAPI 3.1, self-contained, and
saying what the contract says (checked by validating fixtures against its components)."""

from __future__ import annotations

import json
from functools import cache
from importlib import metadata
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from contract_tests import contract
from mock_server.acedata import document as openapi
from tests.support import refs

DOC_URI = "urn:luma-mock:openapi"
VIDEOS = "/luma/videos"
TASKS = "/luma/tasks"


@cache
def _doc() -> dict[str, Any]:
    return openapi.document()


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _pointer(*segments: str) -> str:
    return "#/" + "/".join(_escape(s) for s in segments)


@cache
def _registry() -> Registry:
    # the whole document as one 2020-12 resource, so "#/components/..." resolves inside it
    return Registry().with_resource(DOC_URI, DRAFT202012.create_resource(_doc()))


def _validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": DOC_URI + pointer}, registry=_registry())


def _response_schema(path: str, status: str) -> Draft202012Validator:
    return _validator(
        _pointer(
            "paths", path, "post", "responses", status, "content", "application/json", "schema"
        )
    )


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for raw in ref.removeprefix("#/").split("/"):
        node = node[raw.replace("~1", "/").replace("~0", "~")]
    return node


def _envelope(code: str) -> dict[str, Any]:
    info = contract.error_codes("acedata/error")[code]
    return {"success": False, "error": {"code": code, "message": info.message}, "trace_id": "t"}


def test_document_is_valid_openapi_3_1() -> None:
    doc = _doc()
    assert doc["openapi"] == "3.1.0"
    validate(doc)


def test_document_is_json_serializable() -> None:
    doc = _doc()
    assert json.loads(json.dumps(doc)) == doc


def test_every_ref_resolves_within_the_document() -> None:
    doc = _doc()
    found = refs(doc)
    assert found
    for ref in found:
        assert ref.startswith("#/components/schemas/"), ref
        assert isinstance(_resolve(doc, ref), dict), ref


def test_every_schema_file_and_def_is_a_component() -> None:
    components = _doc()["components"]["schemas"]
    for name in contract.dialect_schema_names("acedata"):  # the document's own API
        schema = contract.load_schema(name)
        assert schema["title"] in components, name
        assert set(schema.get("$defs", {})) <= set(components), name


def test_components_carry_no_json_schema_plumbing() -> None:
    text = json.dumps(_doc()["components"]["schemas"])
    for key in ('"$id"', '"$schema"', '"$defs"', ".json"):
        assert key not in text


def test_annotations_are_kept() -> None:
    codes = _doc()["components"]["schemas"]["ErrorCode"]["oneOf"]
    assert {c["const"]: c["x-status"] for c in codes} == {
        c.code: c.status for c in contract.error_codes("acedata/error").values()
    }
    assert all(c["x-message"] for c in codes)


def test_document_is_fresh_on_each_call() -> None:
    first = openapi.document()
    first["components"]["schemas"].clear()
    assert openapi.document()["components"]["schemas"]


def test_bearer_auth_applies_globally_and_not_to_callbacks() -> None:
    doc = _doc()
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert doc["security"] == [{"bearerAuth": []}]
    callback = doc["paths"][VIDEOS]["post"]["callbacks"]["videoFinished"]
    assert callback["{$request.body#/callback_url}"]["post"]["security"] == []


def test_info_and_servers() -> None:
    doc = _doc()
    assert doc["servers"][0]["url"] == "https://api.acedata.cloud"
    assert doc["info"]["title"]
    assert doc["info"]["version"] == metadata.version("luma-mock")


def test_version_falls_back_when_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(openapi.metadata, "version", missing)
    assert openapi.document()["info"]["version"] == "0"


# method_not_allowed (405) answers a method that has no operation, so no operation lists it;
# request_timeout (408) answers a request that never arrived whole, whose operation the
# server may not even know (its head unfinished): the server's, not an operation's;
# not_recorded (501) is `luma-mock replay`'s answer to a request its cassette lacks.
NOT_AN_OPERATION_STATUS = {405, 408, 501}


def test_every_error_status_is_documented_by_an_operation() -> None:
    paths = _doc()["paths"]
    listed = {int(s) for p in (VIDEOS, TASKS) for s in paths[p]["post"]["responses"]}
    statuses = {c.status for c in contract.error_codes("acedata/error").values()}
    assert statuses - NOT_AN_OPERATION_STATUS <= listed


def test_operation_error_statuses() -> None:
    paths = _doc()["paths"]
    videos = set(paths[VIDEOS]["post"]["responses"])
    tasks = set(paths[TASKS]["post"]["responses"])
    assert videos == {"200", "400", "401", "403", "404", "413", "429", "500", "504"}
    assert tasks == {"200", "400", "401", "404", "413", "429", "500"}


def test_400_response_rejects_a_401_code() -> None:
    schema = _response_schema(VIDEOS, "400")
    assert schema.is_valid(_envelope("bad_request"))
    assert not schema.is_valid(_envelope("invalid_token"))


@pytest.mark.parametrize(
    ("path", "status"),
    [(VIDEOS, s) for s in openapi.VIDEOS_ERRORS] + [(TASKS, s) for s in openapi.TASKS_ERRORS],
)
def test_error_response_admits_exactly_its_codes(path: str, status: int) -> None:
    schema = _response_schema(path, str(status))
    for code, info in contract.error_codes("acedata/error").items():
        assert schema.is_valid(_envelope(code)) == (info.status == status), code


ACEDATA_FIXTURES = contract.dialect_fixtures("acedata")  # the document's own API's


@pytest.mark.parametrize("fx", ACEDATA_FIXTURES, ids=[f.name for f in ACEDATA_FIXTURES])
def test_components_judge_fixtures_like_the_contract(fx: contract.Fixture) -> None:
    if fx.strict:
        pytest.skip("the document describes the lenient contract")
    title = contract.load_schema(fx.schema)["title"]
    component = _validator(_pointer("components", "schemas", title))
    assert component.is_valid(fx.payload) == fx.valid


def test_200_responses_accept_every_documented_answer() -> None:
    videos = _response_schema(VIDEOS, "200")
    tasks = _response_schema(TASKS, "200")
    for fx in contract.fixtures():
        if fx.valid and fx.schema in {"acedata/videos-result", "acedata/videos-accepted"}:
            assert videos.is_valid(fx.payload), fx.name
        if fx.valid and fx.schema in {"acedata/task-record", "acedata/tasks-batch"}:
            assert tasks.is_valid(fx.payload), fx.name


@pytest.mark.parametrize(
    "broken",
    [
        {"video_width": "1360"},
        {"thumbnail_height": 0},
        {"state": "processing"},
        {"success": False},
        {"video_url": "not a url"},
    ],
)
def test_the_videos_200_shapes_are_told_apart(broken: dict[str, Any]) -> None:
    """A tool that validates with the document rejects a finished result that breaks
    its schema: it does not pass as an immediate answer just for having a task_id."""
    videos = _response_schema(VIDEOS, "200")
    result = contract.fixture("acedata/seed_result_basic").payload
    assert videos.is_valid(result)
    assert not videos.is_valid({**result, **broken})
    assert videos.is_valid({"task_id": result["task_id"]})


def _media_types(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every (pointer, media type object) that carries a schema, callbacks included."""
    found = []

    def walk(node: Any, where: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            if "schema" in node and (where[-1] if where else "") == "application/json":
                found.append((_pointer(*where), node))
            for k, v in node.items():
                walk(v, (*where, k))

    walk(doc["paths"], ("paths",))
    return found


def test_every_example_satisfies_its_schema() -> None:
    doc = _doc()
    media = _media_types(doc)
    assert len(media) >= 10
    seen = 0
    for pointer, media_type in media:
        schema = _validator(pointer + "/schema")
        for name, example in media_type.get("examples", {}).items():
            assert schema.is_valid(example["value"]), f"{pointer}: {name}"
            seen += 1
    assert seen >= 30


def test_requests_and_callback_have_examples() -> None:
    post = _doc()["paths"][VIDEOS]["post"]
    request_examples = post["requestBody"]["content"]["application/json"]["examples"]
    assert "seed_request_generate_start_image" in request_examples
    callback = post["callbacks"]["videoFinished"]["{$request.body#/callback_url}"]["post"]
    assert (
        "seed_callback_body" in callback["requestBody"]["content"]["application/json"]["examples"]
    )
    assert set(callback["responses"]) == {"2XX"}


def test_unsupported_refs_fail_loudly() -> None:
    titles = {"a.json": "A"}
    with pytest.raises(ValueError):
        openapi._component_ref("other.json", "a.json", titles)
    with pytest.raises(ValueError):
        openapi._component_ref("#/properties/x", "a.json", titles)
    assert openapi._component_ref("#/$defs/X", "a.json", titles) == "#/components/schemas/X"
    assert openapi._component_ref("a.json", "a.json", titles) == "#/components/schemas/A"
