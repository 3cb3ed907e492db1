"""An OpenAPI 3.1 description of the Luma video API, assembled from ``schemas/`` by code.

Nothing here restates a schema: each file's top-level schema becomes a component under
its ``title``, each ``$defs`` entry a component under its own name, and every ``$ref`` is
rewritten to point at those components. The error responses are derived from the
``x-status`` of each code in ``error.json``, and the examples are the valid fixtures, so
the document cannot drift from the contract that the tests enforce.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from http import HTTPStatus
from importlib import metadata
from typing import Any

from contract_tests.contract import examples
from contract_tests.contract import schema as contract

DIALECT = "acedata"  # the API this document describes: this package's
OPENAPI_VERSION = "3.1.0"
SERVER_URL = "https://api.acedata.cloud"
JSON = "application/json"
COMPONENTS = "#/components/schemas/"

# The error statuses each operation documents (the codes behind them come from error.json).
VIDEOS_ERRORS = (400, 401, 403, 404, 413, 429, 500, 504)
TASKS_ERRORS = (400, 401, 404, 413, 429, 500)


def document() -> dict[str, Any]:
    """The whole OpenAPI document, built afresh on each call (callers may mutate it)."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": _info(),
        "servers": [{"url": SERVER_URL, "description": "The real AceDataCloud service"}],
        "security": [{"bearerAuth": []}],
        "paths": {
            "/luma/videos": {"post": _videos_operation()},
            "/luma/tasks": {"post": _tasks_operation()},
        },
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The AceDataCloud API token: `authorization: Bearer <token>`.",
                }
            },
        },
    }


def _version() -> str:
    try:
        return metadata.version("luma-mock")
    except metadata.PackageNotFoundError:
        # running from a checkout that was never installed
        return "0"


def _info() -> dict[str, Any]:
    return {
        "title": "Luma video API (AceDataCloud), as luma-mock fakes it",
        "version": _version(),
        "description": (
            "Generated from luma-mock's JSON Schemas (schemas/*.json), the single source of "
            "truth of the contract; examples are the project's documented fixtures."
        ),
    }


# --- components: the schema files, rewritten


def _names() -> dict[str, str]:
    """File name (``videos-result.json``) -> schema name (``acedata/videos-result``)."""
    names = contract.dialect_schema_names(DIALECT)
    return {f"{n.rpartition('/')[2]}.json": n for n in names}


def _titles() -> dict[str, str]:
    """File name (``videos-result.json``) -> component name (its ``title``)."""
    return {file: contract.load_schema(n)["title"] for file, n in _names().items()}


def component_schemas() -> dict[str, Any]:
    """Every file's top-level schema under its title, and every ``$defs`` entry lifted
    under its own name, with all ``$ref``s pointing into ``#/components/schemas/``."""
    titles = _titles()
    components: dict[str, Any] = {}
    for file_name, name in _names().items():
        raw = contract.load_schema(name)
        defs = raw.pop("$defs", {})
        top = {k: v for k, v in raw.items() if k not in ("$id", "$schema")}
        for component, schema in [(top["title"], top), *defs.items()]:
            # two files defining the same name would silently overwrite one another
            if component in components:
                raise ValueError(f"component name {component!r} is defined twice ({file_name})")
            components[component] = _rewrite(schema, file_name, titles)
    return components


def _rewrite(node: Any, file_name: str, titles: dict[str, str]) -> Any:
    if isinstance(node, list):
        return [_rewrite(item, file_name, titles) for item in node]
    if not isinstance(node, dict):
        return node
    if "$defs" in node or "$id" in node:
        # only top-level $defs are lifted; a nested one would lose its resolution scope
        raise ValueError(f"{file_name}: nested $defs/$id are not supported")
    return {
        k: (_component_ref(v, file_name, titles) if k == "$ref" else _rewrite(v, file_name, titles))
        for k, v in node.items()
    }


def _component_ref(ref: str, file_name: str, titles: dict[str, str]) -> str:
    """``common.json#/$defs/X`` / ``#/$defs/X`` -> ``#/components/schemas/X``;
    ``videos-result.json`` -> ``#/components/schemas/VideosResult``."""
    target, _, fragment = ref.removeprefix(f"{contract.BASE_URI}{DIALECT}/").partition("#")
    target = target or file_name
    if target not in titles:
        raise ValueError(f"{file_name}: $ref {ref!r} points outside schemas/")
    if fragment in ("", "/"):
        return COMPONENTS + titles[target]
    if fragment.startswith("/$defs/") and fragment.count("/") == 2:
        return COMPONENTS + fragment.removeprefix("/$defs/")
    raise ValueError(f"{file_name}: $ref {ref!r} is neither a file nor one of its $defs")


def _ref(component: str) -> dict[str, str]:
    return {"$ref": COMPONENTS + component}


# --- examples: the valid fixtures


def _examples(*schemas: str, code_status: int | None = None) -> dict[str, Any]:
    """Valid fixtures of the given schemas as named OpenAPI examples. Fixtures with fields
    outside the contract are left out: they show tolerance, not the documented shape."""
    chosen: dict[str, Any] = {}
    for fx in examples.fixtures():
        if not fx.valid or fx.strict or fx.schema not in schemas:
            continue
        if contract.unknown_fields(fx.schema, fx.payload):
            continue
        if code_status is not None and _status_of(fx.payload) != code_status:
            continue
        chosen[fx.name.rpartition("/")[2]] = {
            "summary": fx.source,
            "value": copy.deepcopy(fx.payload),
        }
    return chosen


def _status_of(envelope: Any) -> int | None:
    code = envelope.get("error", {}).get("code") if isinstance(envelope, dict) else None
    info = contract.error_codes(f"{DIALECT}/error").get(code)
    return info.status if info else None


def _json_content(schema: dict[str, Any], examples: dict[str, Any]) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if examples:
        media["examples"] = examples
    return {JSON: media}


# --- responses


def _error_response(status: int) -> dict[str, Any]:
    """The error envelope narrowed to the codes sent with ``status``."""
    codes = [c for c in contract.error_codes(f"{DIALECT}/error").values() if c.status == status]
    if not codes:
        raise ValueError(f"no error code in error.json has x-status {status}")
    narrowed = {
        "properties": {"error": {"properties": {"code": {"enum": [c.code for c in codes]}}}}
    }
    listed = "; ".join(f"`{c.code}` ({c.message})" for c in codes)
    return {
        "description": f"{HTTPStatus(status).phrase}: {listed}",
        "content": _json_content(
            {"allOf": [_ref("Error"), narrowed]}, _examples("acedata/error", code_status=status)
        ),
    }


def _error_responses(statuses: Iterable[int]) -> dict[str, Any]:
    return {str(status): _error_response(status) for status in statuses}


def _callbacks() -> dict[str, Any]:
    return {
        "videoFinished": {
            "{$request.body#/callback_url}": {
                "post": {
                    "summary": "The task's outcome, POSTed to callback_url when it ends",
                    "description": (
                        "The finished video in the synchronous shape (task_id included), or "
                        "for a failed task the error envelope with its task_id. No signature "
                        "is documented; the fake retries on failure."
                    ),
                    # the service calls the client's URL; it sends no bearer token
                    "security": [],
                    "requestBody": {
                        "required": True,
                        "content": _json_content(_ref("Callback"), _examples("acedata/callback")),
                    },
                    "responses": {"2XX": {"description": "Any 2xx acknowledges the callback."}},
                }
            }
        }
    }


# --- operations


def _videos_operation() -> dict[str, Any]:
    return {
        "operationId": "createVideo",
        "summary": "Generate or extend a video",
        "description": (
            "Synchronous by default: answers with the finished video. With `callback_url` or "
            "`async: true` it answers at once with the task id. Fields outside the schema "
            "are accepted and ignored."
        ),
        "tags": ["Luma"],
        "requestBody": {
            "required": True,
            "content": _json_content(_ref("VideosRequest"), _examples("acedata/videos-request")),
        },
        "responses": {
            "200": {
                "description": "The finished video, or (callback_url / async) the task id.",
                # disjoint: an immediate answer carries none of a result's video fields,
                # so a result that breaks its schema matches neither shape
                "content": _json_content(
                    {"oneOf": [_ref("VideosResult"), _ref("VideosAccepted")]},
                    _examples("acedata/videos-result", "acedata/videos-accepted"),
                ),
            },
            **_error_responses(VIDEOS_ERRORS),
        },
        "callbacks": _callbacks(),
    }


def _tasks_operation() -> dict[str, Any]:
    return {
        "operationId": "retrieveTasks",
        "summary": "Retrieve one task (retrieve) or several (retrieve_batch)",
        "tags": ["Luma"],
        "requestBody": {
            "required": True,
            "content": _json_content(_ref("TasksRequest"), _examples("acedata/tasks-request")),
        },
        "responses": {
            "200": {
                "description": "One task record (retrieve), or the records found (retrieve_batch).",
                # disjoint: a record requires id/created_at/request, a batch items/count
                "content": _json_content(
                    {"oneOf": [_ref("TaskRecord"), _ref("TasksBatch")]},
                    _examples("acedata/task-record", "acedata/tasks-batch"),
                ),
            },
            **_error_responses(TASKS_ERRORS),
        },
    }
