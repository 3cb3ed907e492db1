"""This API's OpenAPI 3.1 document, made from its routes and the bundled schemas of
each request and answer (served at ``/dream-machine/v1/openapi.json``, printed by
``luma-mock openapi --dialect dream-machine``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contract_tests.contract import bundled

from ..engine.dialect import Route
from . import edits, requests

# endpoint -> the schema of its success's body (the two lists are arrays of strings)
ANSWERS = {
    "create_video": "generation",
    "create_image": "generation",
    "get": "generation",
    "list": "list",
    "ping": "ping",
    "credits": "credits",
    **{endpoint: "generation" for endpoint in edits.HANDLERS},
}
_STRINGS = {"type": "array", "items": {"type": "string"}}
REQUESTS = {**requests.SCHEMAS, **edits.SCHEMAS}


def _answer(endpoint: str) -> dict[str, Any]:
    name = ANSWERS.get(endpoint)
    if name is not None:
        return {"application/json": {"schema": bundled(f"dream-machine/{name}")}}
    if endpoint in ("concepts", "camera_motions"):
        return {"application/json": {"schema": _STRINGS}}
    return {}


def _operation(endpoint: str, status: int, operation_id: str) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "responses": {
            str(status): {"description": endpoint, "content": _answer(endpoint)},
            "default": {
                "description": "error",
                "content": {"application/json": {"schema": bundled("dream-machine/error")}},
            },
        },
    }
    schema = REQUESTS.get(endpoint)
    if schema is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _nullable_optionals(bundled(schema))}},
        }
    return operation


def _nullable_optionals(schema: dict[str, Any]) -> dict[str, Any]:
    """The request as clients may send it: a top-level null is "not given" (the
    contract's `given`), so an optional field may be null."""
    required = set(schema.get("required", ()))
    properties = {
        name: prop if name in required else {"anyOf": [prop, {"type": "null"}]}
        for name, prop in schema.get("properties", {}).items()
    }
    return {**schema, "properties": properties}


def openapi(routes: Mapping[str, Route], prefix: str) -> dict[str, Any]:
    """Each path (without ``prefix``), its methods, their requests and answers."""
    paths: dict[str, Any] = {}
    seen: set[str] = set()
    for path, route in routes.items():
        operations: dict[str, Any] = {}
        for method, (endpoint, status) in sorted(route.dispatch.items()):
            if method == "OPTIONS":
                continue
            # POST /generations is the older path of create_video: its own id.
            operation_id = endpoint if endpoint not in seen else f"{endpoint}_old_path"
            seen.add(operation_id)
            operations[method.lower()] = _operation(endpoint, status, operation_id)
        if "{id}" in path:
            operations["parameters"] = [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ]
        if route.dispatch.get("GET", ("", 0))[0] == "list":
            operations["get"]["parameters"] = [
                {"name": name, "in": "query", "schema": {"type": "integer", "minimum": 0}}
                for name in ("limit", "offset")
            ]
        paths[path.removeprefix(prefix)] = operations
    return {
        "openapi": "3.1.0",
        "info": {"title": "Luma Dream Machine API (luma-mock)", "version": "1.21.0"},
        "servers": [{"url": f"https://api.lumalabs.ai{prefix}"}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": paths,
    }
