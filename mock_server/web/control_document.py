"""The control API's own OpenAPI 3.1 document, served at ``GET /__admin/openapi.json``:
every route under ``/__admin/`` (the control calls of `admin` and the dashboard's data of
`dashboard`), so a test in any language can drive the fake with a generated client.

Written here rather than derived from the views: Flask's routes say the paths and
methods, not what a body holds. ``tests/test_control_document.py`` holds the two
together — every routed ``/__admin`` path and method is in the document, and nothing is
in it that is not routed — and the docs' control API reference is rendered from it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from ..engine.journal import FILTER_KEYS
from .admin import MAX_WAIT
from .admin import _guard as _control_guard
from .rendering import render

control_document = Blueprint("control_document", __name__, url_prefix="/__admin")
control_document.before_request(_control_guard)  # as safe as the calls it describes

OBJECT: dict[str, Any] = {"type": "object"}
TASK_VIEW: dict[str, Any] = {
    "type": "object",
    "required": ["state", "record", "callback"],
    "properties": {
        "state": {"type": "string", "enum": ["pending", "processing", "completed", "failed"]},
        "record": {"type": "object", "description": "the task's record in its dialect's shape"},
        "callback": {"description": "the callback's delivery log, or null", **OBJECT},
    },
}
TIMEOUT: dict[str, Any] = {
    "type": "number",
    "minimum": 0,
    "default": 10,
    "description": f"real seconds to wait (at most {MAX_WAIT:g}); past it: 504 timeout",
}
FILTER_TYPES: dict[str, dict[str, Any]] = {
    "status": {"type": "integer"},
    "since": {"type": "integer", "description": "entries after this seq"},
    "answered": {"type": "boolean", "description": "false: still held"},
    "with_task": {"type": "boolean", "description": "true: the call's task exists"},
}


def _filter_schema(key: str) -> dict[str, Any]:
    return FILTER_TYPES.get(key, {"type": "string"})


def _json(schema: dict[str, Any], description: str = "the answer") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return {"required": bool(required), "content": {"application/json": {"schema": schema}}}


def _op(summary: str, answer: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """One operation: its summary, its 2xx answer (JSON of ``answer`` unless given as a
    whole response), and every control call's errors in the API's envelope."""
    status = str(extra.pop("status", 200))
    response = extra.pop("response", None) or _json(answer or OBJECT)
    responses = {
        status: response,
        "400": {"$ref": "#/components/responses/Refused"},
        "401": {"$ref": "#/components/responses/Refused"},
        "404": {"$ref": "#/components/responses/Refused"},
    }
    return {"summary": summary, "responses": responses, **extra}


TASK_ID = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _paths() -> dict[str, dict[str, Any]]:
    journal_query = [
        {"name": key, "in": "query", "required": False, "schema": _filter_schema(key)}
        for key in FILTER_KEYS
    ]
    journal_filters = {key: _filter_schema(key) for key in FILTER_KEYS}
    entries = {"type": "object", "properties": {"entries": {"type": "array"}}}
    task = {"parameters": [TASK_ID]}
    page_query = [
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    ]
    return {
        "/__admin/openapi.json": {"get": _op("this document")},
        "/__admin/clock": {"get": _op("the fake's time: {now, manual}")},
        "/__admin/clock/advance": {
            "post": _op(
                "move a manual clock; tasks progress and due callbacks fire on the way",
                requestBody=_body({"seconds": {"type": "number", "minimum": 0}}, ("seconds",)),
            )
        },
        "/__admin/tasks/{task_id}": {
            **task,
            "get": _op("a task's state, record (any token) and callback log", TASK_VIEW),
        },
        "/__admin/tasks/{task_id}/complete": {
            **task,
            "post": _op("finish a task successfully now", TASK_VIEW),
        },
        "/__admin/tasks/{task_id}/fail": {
            **task,
            "post": _op(
                "fail a task now with a documented error code",
                TASK_VIEW,
                requestBody=_body(
                    {"code": {"type": "string", "default": "api_error"}, "message": {}}
                ),
            ),
        },
        "/__admin/tasks/{task_id}/wait": {
            **task,
            "post": _op(
                "block until the task is in a state (long-poll)",
                TASK_VIEW,
                requestBody=_body(
                    {
                        "state": {
                            "type": "string",
                            "default": "finished",
                            "enum": ["pending", "processing", "completed", "failed", "finished"],
                        },
                        "timeout": TIMEOUT,
                    }
                ),
            ),
        },
        "/__admin/tasks/{task_id}/callback": {
            **task,
            "get": _op("the task's callback delivery log (404 before there is one)"),
        },
        "/__admin/tasks/{task_id}/callback/wait": {
            **task,
            "post": _op(
                "block until the callback is delivered, or has finally failed or been refused",
                requestBody=_body({"timeout": TIMEOUT}),
            ),
        },
        "/__admin/tasks/{task_id}/detail": {
            **task,
            "get": _op("the dashboard's view of one task: record, request, answer, attempts"),
        },
        "/__admin/scenarios": {
            "get": _op("the scenario rules in force: {rules}"),
            "post": _op(
                "add a scenario rule (match, then, times, name)",
                status=201,
                requestBody=_body({"match": OBJECT, "then": {}, "times": {"type": "integer"}}),
            ),
            "delete": _op("remove every rule: {rules: []}"),
        },
        "/__admin/scenarios/{rule_id}": {
            "parameters": [
                {"name": "rule_id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "delete": _op("remove one rule: {removed}"),
        },
        "/__admin/journal": {
            "get": _op("the request journal, filtered: {entries, count}", parameters=journal_query)
        },
        "/__admin/journal/wait": {
            "post": _op(
                "block until a matching request has arrived (long-poll): the entry",
                requestBody=_body({**journal_filters, "timeout": TIMEOUT}),
            )
        },
        "/__admin/journal/latest": {
            "get": _op(
                "the newest matching entries, newest first, as summaries",
                entries,
                parameters=[*journal_query, page_query[1]],
            )
        },
        "/__admin/journal/{seq}": {
            "parameters": [
                {"name": "seq", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "get": _op("one journal entry, whole"),
        },
        "/__admin/balances": {
            "get": _op("each token's credits (tokens redacted): {balances}"),
            "post": _op(
                "set a token's credits (null: unlimited)",
                requestBody=_body(
                    {"token": {"type": "string"}, "credits": {"type": ["number", "null"]}},
                    ("token",),
                ),
            ),
        },
        "/__admin/rate-limit": {
            "post": _op(
                'set the per-token rate limit, "REQUESTS/SECONDS" (null: none)',
                requestBody=_body({"limit": {"type": ["string", "null"]}}),
            )
        },
        "/__admin/delays": {
            "post": _op(
                "set the delays: a preset, seconds or a table",
                requestBody=_body({"delay": {}}, ("delay",)),
            )
        },
        "/__admin/x402/payments": {
            "get": _op(
                "every payment (--x402), oldest first: payer, network, asset, amount (USDC), "
                "nonce, outcome (settled, released, refused:<reason>), task_id, at; and the "
                "payers' balances: {payments, count, balances}"
            )
        },
        "/__admin/x402/balances/{payer}": {
            "parameters": [
                {"name": "payer", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "put": _op(
                "set a payer's USDC balance (null: unlimited; 0: refused insufficient_funds)",
                requestBody=_body({"usdc": {"type": ["string", "number", "null"]}}, ("usdc",)),
            ),
        },
        "/__admin/x402/refusals": {
            "post": _op(
                "refuse the next count payments that would be served with reason (a code of "
                "the protocol's, e.g. insufficient_funds): {reason, count}",
                requestBody=_body(
                    {
                        "reason": {
                            "type": "string",
                            "pattern": "^[A-Za-z0-9_.:-]{1,100}$",
                        },
                        "count": {"type": "integer", "minimum": 0, "default": 1},
                    },
                    ("reason",),
                ),
            )
        },
        "/__admin/reset": {"post": _op("back to the fake as it started: {reset: true}")},
        "/__admin/replay": {
            "get": _op(
                "a replay's progress: {cassette, unreplayed_creates (seqs), unmatched "
                "(method, path, nearest seq, differing fields, message)}; 404 on no replay"
            )
        },
        "/__admin/state": {
            "get": _op("the dashboard's glance: clock, dialects, credits, rate limit")
        },
        "/__admin/gauges": {
            "get": _op(
                "/health's gauges (uptime, held calls, callbacks under way, connections"
                " and their cap), for the dashboard: kept out of the journal"
            )
        },
        "/__admin/metrics": {
            "get": _op(
                "the fake's own metrics, in Prometheus's text format",
                response={
                    "description": "Prometheus's text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
            )
        },
        "/__admin/tasks": {
            "get": _op(
                "tasks newest first, a page at a time, of every dialect (or one)",
                parameters=[
                    *page_query,
                    {"name": "dialect", "in": "query", "schema": {"type": "string"}},
                ],
            )
        },
        "/__admin/events": {
            "get": _op(
                "server-sent events of what changes (the dashboard's live feed)",
                response={
                    "description": "an event stream",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
            )
        },
        "/__admin/": {
            "get": _op(
                "the dashboard page",
                response={
                    "description": "HTML",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                },
            )
        },
        "/__admin/dashboard/{name}": {
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": _op(
                "one of the dashboard page's files (script, style sheet, icon)",
                response={"description": "the file", "content": {"*/*": {}}},
            ),
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the control API."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "luma-mock control API",
            "version": "1",
            "description": (
                "Steer a running fake: its clock, tasks, scenario rules, journal, credits "
                "and rate limit. Open on loopback; beyond it, off unless the fake has a "
                "control token, which every call then bears as a bearer token."
            ),
        },
        "paths": _paths(),
        "components": {
            "securitySchemes": {"controlToken": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Refused": _json(
                    {
                        "type": "object",
                        "description": "the API's error envelope; its code says why",
                    },
                    "refused: a bad body (400), no control token (401), nothing there (404)",
                )
            },
        },
        "security": [{}, {"controlToken": []}],
    }


@control_document.get("/openapi.json")
def openapi() -> Response:
    return render(document())
