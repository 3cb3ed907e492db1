"""The contract as code: load the JSON Schemas in ``schemas/``, validate payloads against
them with a readable verdict, and list the documented fixtures.

Everything here is plain data and `jsonschema`; the fake, the suites and the plugin all
read the contract through this module (``contract_tests.contract`` re-exports its names),
so ``schemas/`` stays the single source of truth.
A second, compiled engine (`jsonschema_rs`) answers the common question "is this valid?"
fast; `jsonschema` stays the reference that says why not.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, relevance
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .packs import data_dir, pack, pack_of_schema, packs

BASE_URI = "https://luma-mock.example/schemas/"


def schema_dir() -> Path:
    return data_dir("schemas")


@cache
def schema_names() -> tuple[str, ...]:
    """Every registered dialect's schemas, each named ``<dialect>/<file stem>``."""
    return tuple(n for p in packs() for n in dialect_schema_names(p.name))


@cache
def dialect_schema_names(dialect: str) -> tuple[str, ...]:
    """One dialect's schemas (its pack's folder), named ``<dialect>/<stem>``."""
    folder = pack(dialect).schemas
    return tuple(sorted(f"{dialect}/{p.stem}" for p in folder.glob("*.json")))


@cache
def _raw_schema(name: str) -> dict[str, Any]:
    owner, stem = pack_of_schema(name)
    path = owner.schemas / f"{stem}.json"
    if not path.is_file():
        raise KeyError(f"no schema named {name!r}; known: {', '.join(schema_names())}")
    return json.loads(path.read_text(encoding="utf-8"))


def load_schema(name: str, *, strict: bool = False) -> dict[str, Any]:
    """The schema called ``name`` (file stem in ``schemas/``), as a fresh dict.

    ``strict=True`` gives the variant that rejects fields outside ``properties``; it is
    derived here rather than kept as a second file, so the two can never drift apart.
    """
    schema = copy.deepcopy(_raw_schema(name))
    if strict:
        if "properties" not in schema:
            raise ValueError(f"{name} has no top-level properties to be strict about")
        schema["additionalProperties"] = False
    return schema


@cache
def registry() -> Registry:
    # A dialect's schemas sit under its name's URI, so their relative ``$ref``s
    # ("common.json") find their own dialect's files, never another's.
    resources = [
        (BASE_URI + f"{name}.json", Resource.from_contents(_raw_schema(name), DRAFT202012))
        for name in schema_names()
    ]
    return Registry().with_resources(resources)


@cache
def validator(name: str, *, strict: bool = False) -> Draft202012Validator:
    """A compiled validator, built once per (schema, strictness) and reused.

    It validates the bundled schema (every ``$ref`` inlined): the same rules, but no
    reference lookups on the hot path, which roughly halves the cost of a valid request.
    """
    return Draft202012Validator(bundled(name, strict=strict))


@cache
def accepter(name: str, *, strict: bool = False) -> Any:
    """The same bundled schema compiled by `jsonschema_rs`, for the valid path: ~0.5 µs a
    call where `validator` takes 30-60 µs. It only ever says yes first — a "no" is asked
    again of `jsonschema`, the reference, whose errors make the messages — and the tests
    hold the two to agreement on every fixture and on generated payloads."""
    return jsonschema_rs.validator_for(bundled(name, strict=strict))


def _accepted(name: str, payload: Any, strict: bool) -> bool:
    try:
        return bool(accepter(name, strict=strict).is_valid(payload))
    except ValueError:  # not a JSON value (bytes, a set, a non-string key): ask jsonschema
        return False


@dataclass(frozen=True)
class Problem:
    """One reason a payload breaks the contract: where, and why, in plain words."""

    path: str
    reason: str

    def __str__(self) -> str:
        return self.reason if not self.path else f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class Verdict:
    schema: str
    problems: tuple[Problem, ...] = ()
    unknown_fields: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def message(self) -> str:
        """The one problem worth reading first (see ``_focus``)."""
        return str(self.problems[0]) if self.problems else ""


def check(name: str, payload: Any, *, strict: bool = False) -> Verdict:
    """Validate ``payload`` against schema ``name``.

    The valid path costs one compiled ``is_valid`` call; the reference validator and its
    error tooling only run on failure (and have the last word).
    """
    unknown = unknown_fields(name, payload)
    if _accepted(name, payload, strict):
        return Verdict(name, (), unknown)
    errors = list(validator(name, strict=strict).iter_errors(payload))
    first = _focus(max(errors, key=relevance)) if errors else None
    problems = [describe(first)] if first is not None else []
    problems += [describe(e) for e in errors if e is not first]
    return Verdict(name, tuple(problems), unknown)


def given(body: Any) -> Any:
    """The fields a request body gives. A JSON null means "not given" (the provider's MCP
    server sends every optional field it was not told as null), so those are dropped;
    anything that is not an object comes back as it is."""
    if isinstance(body, dict) and None in body.values():
        return {k: v for k, v in body.items() if v is not None}
    return body


def unknown_fields(name: str, payload: Any) -> tuple[str, ...]:
    """Top-level fields of ``payload`` that schema ``name`` does not describe."""
    known = _raw_schema(name).get("properties")
    if known is None or not isinstance(payload, dict):
        return ()
    return tuple(sorted(k for k in payload if k not in known))


def _path(error: ValidationError) -> str:
    parts = []
    for part in error.absolute_path:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}" if parts else part)
    return "".join(str(p) for p in parts)


def _json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _missing_field(error: ValidationError) -> str | None:
    """The field an error says is not given: absent (``required``), or sent as null
    where a value is needed — a JSON null means "not given" in this contract."""
    if error.validator == "required":
        missing = [n for n in error.validator_value if n not in (error.instance or {})]
        return str(missing[0]) if missing else None
    if error.validator == "type" and error.instance is None and len(error.absolute_path) == 1:
        return str(error.absolute_path[0])
    return None


def _is_plain_required(error: ValidationError) -> bool:
    """An anyOf alternative that only asks for one field to be given."""
    return _missing_field(error) is not None


def _is_null_alternative(error: ValidationError) -> bool:
    """The error of an optional field's ``{"type": "null"}`` alternative: null only
    means "not given", so it is never the shape a wrong value was meant to have."""
    return error.validator == "type" and error.validator_value == "null"


def _closest_branches(error: ValidationError) -> list[list[ValidationError]]:
    """The alternatives of an anyOf/oneOf that came nearest to matching (fewest errors),
    each as the list of its errors; a null alternative is left out."""
    branches: dict[Any, list[ValidationError]] = {}
    for e in error.context or []:
        if _is_null_alternative(e):
            continue
        branches.setdefault(e.relative_schema_path[0], []).append(e)
    fewest = min((len(b) for b in branches.values()), default=0)
    return [b for b in branches.values() if len(b) == fewest]


def _focus(error: ValidationError) -> ValidationError:
    """Follow anyOf/oneOf into the one alternative the payload came closest to.

    jsonschema's ``best_match`` descends to the deepest error instead, which can pick an
    alternative the payload never meant to be: a failed callback without task_id was
    reported as "success: must be true". On a tie we stay put and ``describe`` names the
    tied alternatives.
    """
    while error.validator in ("anyOf", "oneOf") and error.context:
        closest = _closest_branches(error)
        if len(closest) != 1:
            return error
        error = max(closest[0], key=relevance)
    return error


def _describe_alternatives(error: ValidationError, path: str) -> Problem:
    """An anyOf/oneOf that no alternative satisfies, without dumping the whole instance."""
    alternatives = error.context or []
    if all(e.validator == "const" for e in alternatives):
        allowed = ", ".join(str(e.validator_value) for e in alternatives)
        return Problem(path, f"{_json(error.instance)} is not one of {allowed}")
    closest = _closest_branches(error)
    if 1 < len(closest) <= 3:
        options = [str(describe(_focus(max(b, key=relevance)))) for b in closest]
        return Problem("", "either " + "; or ".join(options))
    return Problem(path, f"{_json(error.instance)} matches none of the allowed shapes")


def describe(error: ValidationError) -> Problem:
    """Turn a jsonschema error into a Problem whose text names the field and the rule."""
    path = _path(error)
    kind, value = error.validator, error.instance

    alternatives = error.context or []
    if kind == "anyOf" and alternatives and all(_is_plain_required(e) for e in alternatives):
        # "extend needs video_id or video_url": name every alternative, not just one.
        names = list(dict.fromkeys(str(_missing_field(e)) for e in alternatives))
        return Problem(path, " or ".join(names) + " is required")
    if kind in ("anyOf", "oneOf") and alternatives:
        return _describe_alternatives(error, path)
    missing = _missing_field(error)
    if missing is not None or kind == "required":
        where = f"{path}." if kind == "required" and path else ""
        return Problem("", f"{where}{missing or '?'} is required")
    if kind == "type":
        allowed = error.validator_value
        if isinstance(allowed, list):  # ["number", "null"]: null is "not given", not a type
            named = [t for t in allowed if t != "null"]
            allowed = named[0] if len(named) == 1 else " or ".join(named)
        return Problem(path, f"must be {allowed}, got {_type_name(value)}")
    if kind == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value if v is not None)
        return Problem(path, f"{_json(value)} is not one of {allowed}")
    if kind == "const":
        return Problem(path, f"must be {_json(error.validator_value)}, got {_json(value)}")
    if kind == "minLength" and error.validator_value == 1:
        return Problem(path, "must not be empty")
    if kind == "pattern" and isinstance(error.schema.get("x-problem"), str):
        return Problem(path, error.schema["x-problem"])  # the schema's own words for it
    if kind == "pattern" and "https?" in str(error.validator_value):
        return Problem(path, f"{_json(value)} is not an http(s) URL")
    if kind == "exclusiveMinimum":
        return Problem(path, f"must be greater than {error.validator_value}, got {_json(value)}")
    if kind == "minItems":
        return Problem(path, f"must have at least {error.validator_value} item(s)")
    if kind == "not" and isinstance(value, dict):
        # a shape that must not carry certain fields (an immediate answer, no video's)
        banned = [
            b["required"][0] for b in error.validator_value.get("anyOf", []) if "required" in b
        ]
        present = [name for name in banned if name in value]
        if present:
            return Problem(path, f"must not carry {', '.join(present)}")
    if kind == "additionalProperties":
        extra = [k for k in value if k not in error.schema.get("properties", {})]
        return Problem(path, f"unknown field(s): {', '.join(sorted(extra))}")
    return Problem(path, error.message)


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    message: str
    description: str = ""


@cache
def error_codes(name: str) -> dict[str, ErrorCode]:
    """The documented error codes of error schema ``name`` with their HTTP status and
    message (its ``$defs.ErrorCode``: each code's ``x-status`` and ``x-message``)."""
    options = _raw_schema(name)["$defs"]["ErrorCode"]["oneOf"]
    return {
        o["const"]: ErrorCode(o["const"], o["x-status"], o["x-message"], o.get("description", ""))
        for o in options
    }


def bundled(name: str, *, strict: bool = False) -> dict[str, Any]:
    """Schema ``name`` with every ``$ref`` inlined: one self-contained document, which is
    what schema-driven generators such as hypothesis-jsonschema want."""
    root = load_schema(name, strict=strict)
    resolver = registry().resolver(base_uri=BASE_URI + f"{name}.json")
    return _inline(root, resolver)


def _inline(node: Any, resolver: Any) -> Any:
    if isinstance(node, list):
        return [_inline(item, resolver) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        resolved = resolver.lookup(node["$ref"])
        target = _inline(resolved.contents, resolved.resolver)
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {"allOf": [target, _inline(rest, resolver)]} if rest else target
    skip = {"$id", "$schema", "$defs"}
    return {
        k: (_inline(v, resolver) if not k.startswith("x-") else v)
        for k, v in node.items()
        if k not in skip
    }
