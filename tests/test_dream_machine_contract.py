"""The Luma Dream Machine contract: its schemas load by a dialect-qualified name
(``dream-machine/generation``) beside the AceDataCloud ones, and every labelled example
in ``fixtures/examples/dream-machine/`` is judged as labelled."""

from __future__ import annotations

import pytest

from contract_tests import contract
from contract_tests.contract import Fixture

DIALECT = "dream-machine"
FIXTURES = contract.dialect_fixtures(DIALECT)
VALID = [f for f in FIXTURES if f.valid]
INVALID = [f for f in FIXTURES if not f.valid]
NAMES = contract.dialect_schema_names(DIALECT)


def _ids(fixtures: list[Fixture]) -> list[str]:
    return [f.name for f in fixtures]


def test_names_are_qualified_and_apart_from_the_acedata_ones() -> None:
    assert "dream-machine/generation" in NAMES
    assert "dream-machine/video-request" in NAMES
    assert all(name.count("/") == 1 for name in contract.schema_names())
    assert set(NAMES).isdisjoint(contract.dialect_schema_names("acedata"))
    # The same stem in two dialects is two schemas.
    assert contract.load_schema("dream-machine/error") != contract.load_schema("acedata/error")


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_a_valid_2020_12_schema_and_bundles(name: str) -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(contract.load_schema(name))
    assert "$ref" not in str(contract.bundled(name))


@pytest.mark.parametrize("fx", VALID, ids=_ids(VALID))
def test_valid_fixture_is_accepted(fx: Fixture) -> None:
    verdict = contract.check(fx.schema, fx.payload, strict=fx.strict)
    assert verdict.ok, f"{fx.name} ({fx.source}) rejected: {verdict.message}"


@pytest.mark.parametrize("fx", INVALID, ids=_ids(INVALID))
def test_invalid_fixture_is_rejected_with_a_readable_reason(fx: Fixture) -> None:
    verdict = contract.check(fx.schema, fx.payload, strict=fx.strict)
    assert not verdict.ok, f"{fx.name} accepted, but it should break: {fx.why}"
    assert fx.expect and fx.expect in verdict.message, verdict.message


@pytest.mark.parametrize("fx", FIXTURES, ids=_ids(FIXTURES))
def test_fixture_is_labelled(fx: Fixture) -> None:
    assert fx.schema in NAMES
    assert fx.source
    if not fx.valid:
        assert fx.why


def test_every_schema_has_a_valid_and_an_invalid_fixture() -> None:
    messages = set(NAMES) - {f"{DIALECT}/common"}
    assert messages <= {f.schema for f in VALID}
    assert messages <= {f.schema for f in INVALID}


def test_the_dialects_openapi_document_is_valid() -> None:
    from openapi_spec_validator import validate

    from mock_server.dream_machine import DIALECT

    document = DIALECT.openapi()
    validate(document)
    assert "/generations/{id}" in document["paths"]
    assert set(document["paths"]["/generations/{id}"]) == {"get", "delete", "parameters"}


def test_the_document_has_every_sdk_operation() -> None:
    from mock_server.dream_machine import DIALECT

    paths = DIALECT.openapi()["paths"]
    operations = {
        (path, method) for path, ops in paths.items() for method in ops if method != "parameters"
    }
    assert {
        ("/generations/{id}/upscale", "post"),
        ("/generations/{id}/audio", "post"),
        ("/generations/image/reframe", "post"),
        ("/generations/video/reframe", "post"),
        ("/generations/video/modify", "post"),
    } <= operations
    assert len(operations) == 15  # the SDK's 13 operations, and the 2 older paths
    upscale = paths["/generations/{id}/upscale"]["post"]
    assert set(upscale["responses"]) == {"200", "default"}
    assert paths["/generations/video/modify"]["post"]["responses"].keys() == {"201", "default"}
