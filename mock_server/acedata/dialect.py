"""The AceDataCloud Luma API as a `Dialect`: the paths the engine serves, where its media
lives, and the shapes of its answers, records and errors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..engine import scenarios
from ..engine.dialect import Route
from ..engine.errors import ErrorInfo
from ..engine.tasks import Task
from . import media, records, requests
from .errors import CODES, error_body

# Where clients of this API send requests by default: the documented base URL, and the
# one the provider's Python SDK uses. Code under test needs no configuration to hit the fake.
DEFAULT_BASE_URLS = ("https://api.acedata.cloud", "https://x402.acedata.cloud")

_POST = frozenset({"POST", "OPTIONS"})
ENDPOINTS = ("videos", "tasks")


class AceDataDialect:
    """``POST /luma/videos`` and ``POST /luma/tasks``, the AceDataCloud way. Stateless:
    one instance serves every engine."""

    name = "acedata"
    base_urls = DEFAULT_BASE_URLS
    openapi_path = "/openapi.json"
    path_prefixes: tuple[str, ...] = ()  # its paths are at the root, among others'
    callback_retry = None  # the settings' policy (--callback-retries and the config file)
    error_aliases: Mapping[str, str] = MappingProxyType({})  # the engine's codes are this API's own
    refunds_failures = False  # the provider documents no refund of a failed task

    def __init__(self) -> None:
        # Plain dicts: the HTTP layer looks a route up on every call.
        self.routes = {f"/luma/{endpoint}": Route(endpoint, _POST) for endpoint in ENDPOINTS}
        self.route_templates: dict[str, Route] = {}  # exact paths only
        self.media_routes = {f"/luma/<task_id>.{kind}": kind for kind in media.KINDS}

    # Plain functions, bound here as they are: a call through the dialect costs no layer
    # of its own on the hot paths (every call is checked and served, a retrieve renders
    # a record).
    error_body = staticmethod(error_body)
    check_request = staticmethod(requests.check_request)
    serve = staticmethod(requests.serve)
    result = staticmethod(records.result)
    response = staticmethod(records.response)
    record = staticmethod(records.record)

    def error_codes(self) -> Mapping[str, ErrorInfo]:
        return CODES

    def describe(self, endpoint: str, fields: Any) -> tuple[str | None, str | None, str | None]:
        """The action (each endpoint's documented default if none is given) and the
        prompt, for the scenario rules; this API names no model."""
        body = fields if isinstance(fields, Mapping) else {}
        default_action = "generate" if endpoint == "videos" else "retrieve"
        return body.get("action", default_action), body.get("prompt"), None

    def media_file(self, task: Task, kind: str) -> tuple[Path, str]:
        return media.media_file(task.variant, kind), media.KINDS[kind]

    def openapi(self) -> dict[str, Any]:
        # Imported when first served: the document's builder is not needed to serve calls.
        from .document import document

        return document()

    def banner_example(self, url: str) -> str:
        return (
            f"curl -s {url}/luma/videos -H 'authorization: Bearer any-token' "
            "-H 'content-type: application/json' "
            """-d '{"prompt": "Astronauts shuttle from space to volcano", "async": true}'"""
        )


DIALECT = AceDataDialect()


class Scenarios(scenarios.Scenarios):
    """Scenario rules as this dialect checks them: the engine's, whose ``endpoint`` is
    videos or tasks. (An engine speaking the dialect makes its rules so by itself.)"""

    def __init__(self) -> None:
        super().__init__(endpoints=ENDPOINTS)
