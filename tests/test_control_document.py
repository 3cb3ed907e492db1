"""The control API's OpenAPI document (``GET /__admin/openapi.json``): valid OpenAPI 3.1,
and the same routes as the app — nothing routed under /__admin is left out of it, and
nothing in it is not routed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from mock_server.acedata import LumaService
from mock_server.engine.config import Settings
from mock_server.web.app import create_app, served_routes
from mock_server.web.control_document import document
from tests.support import manual_service

IGNORED_METHODS = {"HEAD", "OPTIONS"}  # Flask adds them to every GET route


@pytest.fixture
def luma() -> Iterator[LumaService]:
    service = manual_service()
    yield service
    service.close()


@pytest.fixture
def client(luma: LumaService) -> FlaskClient:
    return create_app(luma).test_client()


def routed_control_calls(luma: LumaService) -> set[tuple[str, str]]:
    """(method, path) of every route under /__admin/, its parameters in OpenAPI's braces."""
    calls = set()
    for rule, methods in served_routes(create_app(luma)).items():
        if rule.startswith("/__admin/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)
            calls |= {(method, path) for method in methods - IGNORED_METHODS}
    return calls


def documented_calls(doc: dict) -> set[tuple[str, str]]:
    methods = {"get", "post", "put", "patch", "delete"}
    return {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in methods
    }


def test_the_document_is_valid_openapi_3_1(client: FlaskClient) -> None:
    answer = client.get("/__admin/openapi.json")
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    served = answer.get_json()
    assert served["openapi"] == "3.1.0"
    validate(served)  # raises on anything OpenAPI 3.1 does not allow


def test_every_control_route_is_documented_and_nothing_else(luma: LumaService) -> None:
    routed = routed_control_calls(luma)
    documented = documented_calls(document())
    assert routed, "no /__admin routes found: the app's routes moved"
    assert routed - documented == set(), "routed but not in the document"
    assert documented - routed == set(), "documented but not routed"


def test_every_path_parameter_is_declared() -> None:
    for path, item in document()["paths"].items():
        named = set(re.findall(r"{(\w+)}", path))
        declared = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        assert named == declared, path


def test_the_document_is_as_guarded_as_the_calls_it_describes() -> None:
    luma = LumaService(Settings(clock="manual", host="0.0.0.0", control_token="secret"))
    try:
        client = create_app(luma).test_client()
        assert client.get("/__admin/openapi.json").status_code == 401
        bearing = client.get("/__admin/openapi.json", headers={"Authorization": "Bearer secret"})
        assert bearing.status_code == 200
    finally:
        luma.close()
