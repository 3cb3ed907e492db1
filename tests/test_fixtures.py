"""Every documented example in ``fixtures/examples/`` is judged by the schemas as labelled.

A valid fixture that the schemas reject is a schema bug (the seed guide's examples are
ground truth); an invalid one that they accept is a hole in the contract.
"""

from __future__ import annotations

import pytest

from contract_tests import contract
from contract_tests.contract import Fixture

FIXTURES = contract.fixtures()
VALID = [f for f in FIXTURES if f.valid]
INVALID = [f for f in FIXTURES if not f.valid]


def _ids(fixtures: list[Fixture]) -> list[str]:
    return [f.name for f in fixtures]


@pytest.mark.parametrize("fx", VALID, ids=_ids(VALID))
def test_valid_fixture_is_accepted(fx: Fixture) -> None:
    verdict = contract.check(fx.schema, fx.payload, strict=fx.strict)
    assert verdict.ok, f"{fx.name} ({fx.source}) rejected: {verdict.message}"


@pytest.mark.parametrize("fx", INVALID, ids=_ids(INVALID))
def test_invalid_fixture_is_rejected_with_a_readable_reason(fx: Fixture) -> None:
    verdict = contract.check(fx.schema, fx.payload, strict=fx.strict)
    assert not verdict.ok, f"{fx.name} accepted, but it should break: {fx.why}"
    assert fx.expect, f"{fx.name}: an invalid fixture must say what its message contains"
    assert fx.expect in verdict.message


@pytest.mark.parametrize("fx", FIXTURES, ids=_ids(FIXTURES))
def test_fixture_is_labelled(fx: Fixture) -> None:
    assert fx.schema in contract.schema_names()
    assert fx.source, f"{fx.name}: say where the example comes from"
    if not fx.valid:
        assert fx.why, f"{fx.name}: say which rule it breaks"


def test_every_schema_has_a_valid_fixture() -> None:
    covered = {f.schema for f in VALID}
    # common.json only holds $defs; it has no messages of its own.
    missing = (
        set(contract.schema_names())
        - {n for n in contract.schema_names() if n.endswith("/common")}
        - covered
    )
    assert not missing


def test_every_schema_has_an_invalid_fixture() -> None:
    covered = {f.schema for f in INVALID}
    missing = (
        set(contract.schema_names())
        - {n for n in contract.schema_names() if n.endswith("/common")}
        - covered
    )
    assert not missing


def test_all_seven_seed_responses_are_present() -> None:
    seed_responses = [
        f
        for f in VALID
        if "seed" in f.source and f.schema in {"acedata/videos-result", "acedata/callback"}
    ]
    assert len(seed_responses) >= 7


def test_every_error_code_has_a_valid_envelope() -> None:
    shown = {f.payload["error"]["code"] for f in VALID if f.schema == "acedata/error"}
    assert shown == set(contract.error_codes("acedata/error"))


def test_strict_fixture_is_valid_without_strict() -> None:
    # The same body must pass leniently: unknown fields are ignored by default.
    for fx in (f for f in INVALID if f.strict):
        assert contract.check(fx.schema, fx.payload).ok, fx.name
        assert contract.check(fx.schema, fx.payload).unknown_fields
