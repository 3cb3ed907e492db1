"""The contract as code, the bottom layer of both packages: the JSON Schemas read in
Python (`schema`), the labelled examples and sample media (`examples`), the OpenAPI
document built from them (`openapi`), Hypothesis strategies for every request shape and
every broken rule (`strategies`), the Hypothesis profiles (`profiles`), and what the
suites know of each API — its schemas, path prefix, billable calls (`dialects`).

It may import the standard library, `jsonschema`, `jsonschema_rs`, `referencing`,
Hypothesis and `hypothesis_jsonschema`, and nothing else of this project: the checks,
the suites, the plugin and the fake all read the contract from here.

The schema API (`check`, `load_schema`, `error_codes`, `fixtures`, `given`, …) is
re-exported here, so ``from contract_tests import contract; contract.check(...)`` and
``from contract_tests.contract import check`` work as they always did. It is loaded on
first use: the pytest plugin imports `profiles` from this package, and a session that
only registers profiles must not pay for loading `jsonschema` and the schemas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what __getattr__ hands out, for type checkers and readers
    from .examples import Fixture, dialect_fixtures, fixture, fixtures, media_dir
    from .schema import (
        BASE_URI,
        ErrorCode,
        Problem,
        Verdict,
        accepter,
        bundled,
        check,
        dialect_schema_names,
        error_codes,
        given,
        load_schema,
        registry,
        schema_dir,
        schema_names,
        unknown_fields,
        validator,
    )

__all__ = [
    "BASE_URI",
    "ErrorCode",
    "Fixture",
    "Problem",
    "Verdict",
    "accepter",
    "bundled",
    "check",
    "dialect_fixtures",
    "dialect_schema_names",
    "error_codes",
    "fixture",
    "fixtures",
    "given",
    "load_schema",
    "media_dir",
    "registry",
    "schema_dir",
    "schema_names",
    "unknown_fields",
    "validator",
]


_EXAMPLES = frozenset({"Fixture", "dialect_fixtures", "fixture", "fixtures", "media_dir"})


def __getattr__(name: str) -> Any:
    # Only the names above load `schema` (or `examples`): a submodule's name (`from
    # contract_tests.contract import profiles` asks for the attribute first; the
    # AttributeError sends the import system on to the submodule) and the probes of
    # pytest and inspect must not.
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import examples, schema

    value = getattr(examples if name in _EXAMPLES else schema, name)
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
