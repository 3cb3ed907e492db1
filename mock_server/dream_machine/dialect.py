"""Luma's own Dream Machine API as a `Dialect`: its routes (under ``/dream-machine/v1``
and at the root, where the SDKs' own test mock serves them), its media and the shapes
of its answers and errors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from contract_tests.contract import Verdict

from ..engine.callbacks import RetryPolicy
from ..engine.dialect import Call, EngineAPI, Route
from ..engine.errors import ErrorInfo
from ..engine.scenarios import Outcome
from ..engine.tasks import Task
from . import document, edits, media, records, requests
from .errors import ERROR_CODES, error_body

PREFIX = "/dream-machine/v1"
# Luma's documented policy: an answer other than 200 is retried 3 times, 100 ms apart,
# each attempt with a 5 s timeout (timed on the fake's clock, like the engine's own).
CALLBACK_RETRY = RetryPolicy(retries=3, backoff=0.1, max_backoff=0.1, timeout=5.0)
DEFAULT_BASE_URLS = ("https://api.lumalabs.ai",)


def _route(endpoint: str, *methods: str, status: int = 200, **others: Any) -> Route:
    return Route(
        endpoint,
        frozenset({*methods, "OPTIONS"}),
        status,
        by_method=tuple(others.get("by_method", ())),
        statuses=tuple(others.get("statuses", ())),
    )


def _routes(prefix: str) -> tuple[dict[str, Route], dict[str, Route]]:
    exact = {
        # POST /generations is the create path from before SDK 1.12.
        f"{prefix}/generations": _route(
            "list",
            "GET",
            "POST",
            by_method=[("POST", "create_video")],
            statuses=[("create_video", 201)],
        ),
        f"{prefix}/generations/video": _route("create_video", "POST", status=201),
        f"{prefix}/generations/image": _route("create_image", "POST", status=201),
        f"{prefix}/generations/image/reframe": _route("reframe_image", "POST", status=201),
        f"{prefix}/generations/video/reframe": _route("reframe_video", "POST", status=201),
        f"{prefix}/generations/video/modify": _route("modify_video", "POST", status=201),
        # Exact, so they are found before the {id} template would take "concepts".
        f"{prefix}/generations/concepts/list": _route("concepts", "GET"),
        f"{prefix}/generations/camera_motion/list": _route("camera_motions", "GET"),
        f"{prefix}/ping": _route("ping", "GET"),
        f"{prefix}/credits": _route("credits", "GET"),
    }
    templates = {
        f"{prefix}/generations/{{id}}": _route(
            "get", "GET", "DELETE", by_method=[("DELETE", "delete")], statuses=[("delete", 204)]
        ),
        # 200, not 201: the SDK's documented status for these two (a new generation all
        # the same).
        f"{prefix}/generations/{{id}}/upscale": _route("upscale", "POST"),
        f"{prefix}/generations/{{id}}/audio": _route("audio", "POST"),
    }
    return exact, templates


class DreamMachineDialect:
    """The Dream Machine API: every call of its SDKs (see the package's docstring).
    Stateless: one instance serves every engine."""

    name = "dream-machine"
    base_urls = DEFAULT_BASE_URLS
    openapi_path = f"{PREFIX}/openapi.json"
    path_prefixes = (PREFIX, media.MEDIA_PREFIX)
    callback_retry = CALLBACK_RETRY
    # An empty balance: 402, as Luma's newer API documents it (see errors.ERROR_CODES).
    error_aliases: Mapping[str, str] = MappingProxyType({"used_up": "insufficient_credits"})
    refunds_failures = True  # "credits are refunded when a generation fails"

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.route_templates: dict[str, Route] = {}
        for prefix in (PREFIX, ""):
            exact, templates = _routes(prefix)
            self.routes.update(exact)
            self.route_templates.update(templates)
        self.media_routes = {f"{media.MEDIA_PREFIX}/<task_id>.{kind}": kind for kind in media.KINDS}

    error_body = staticmethod(error_body)
    result = staticmethod(records.result)
    response = staticmethod(records.response)
    record = staticmethod(records.record)

    def check_request(self, endpoint: str, body: Any) -> tuple[Verdict, Any]:
        if endpoint in edits.SCHEMAS:
            return edits.check_request(endpoint, body)
        return requests.check_request(endpoint, body)

    def serve(self, engine: EngineAPI, call: Call, outcome: Outcome | None) -> Any:
        handler = edits.HANDLERS.get(call.endpoint)
        if handler is not None:
            return handler(engine, call, outcome)
        return requests.serve(engine, call, outcome)

    def error_codes(self) -> Mapping[str, ErrorInfo]:
        return ERROR_CODES

    def describe(self, endpoint: str, fields: Any) -> tuple[str | None, str | None, str | None]:
        """Creates are ``generate`` (the engine's delays and rules' word); the prompt;
        the model."""
        body = fields if isinstance(fields, Mapping) else {}
        action = "generate" if endpoint.startswith("create_") else endpoint
        return action, body.get("prompt"), body.get("model")

    def media_file(self, task: Task, kind: str) -> tuple[Path, str]:
        return media.media_file(task.variant, kind), media.KINDS[kind]

    def openapi(self) -> dict[str, Any]:
        return document.openapi({**_routes(PREFIX)[0], **_routes(PREFIX)[1]}, PREFIX)

    def banner_example(self, url: str) -> str:
        return (
            f"curl -s {url}{PREFIX}/generations/video -H 'authorization: Bearer any-token' "
            "-H 'content-type: application/json' "
            """-d '{"model": "ray-2", "prompt": "a tiger in the snow"}'"""
        )


DIALECT = DreamMachineDialect()
