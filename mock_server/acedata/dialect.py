"""The AceDataCloud Luma API as a `Dialect`: the paths the engine serves, where its media
lives, and the shapes of its answers, records and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..engine.dialect import Route
from ..engine.tasks import Task
from . import media, records
from .errors import error_body

# Where clients of this API send requests by default: the documented base URL, and the
# one the provider's Python SDK uses. Code under test needs no configuration to hit the fake.
DEFAULT_BASE_URLS = ("https://api.acedata.cloud", "https://x402.acedata.cloud")

_POST = frozenset({"POST", "OPTIONS"})


class AceDataDialect:
    """``POST /luma/videos`` and ``POST /luma/tasks``, the AceDataCloud way. Stateless:
    one instance serves every engine."""

    name = "acedata"
    base_urls = DEFAULT_BASE_URLS

    def __init__(self) -> None:
        # Plain dicts: the HTTP layer looks a route up on every call.
        self.routes = {"/luma/videos": Route("videos", _POST), "/luma/tasks": Route("tasks", _POST)}
        self.media_routes = {f"/luma/<task_id>.{kind}": kind for kind in media.KINDS}

    # The shapes are plain functions: bound here as they are, so that a call through the
    # dialect costs no extra layer on the hot paths (a retrieve renders a record).
    error_body = staticmethod(error_body)
    result = staticmethod(records.result)
    response = staticmethod(records.response)
    record = staticmethod(records.record)

    def media_file(self, task: Task, kind: str) -> tuple[Path, str]:
        return media.media_file(task.aspect_ratio, kind), media.KINDS[kind]

    def openapi(self) -> dict[str, Any]:
        # Imported when first served: the document's builder is not needed to serve calls.
        from contract_tests.openapi import document

        return document()

    def banner_example(self, url: str) -> str:
        return (
            f"curl -s {url}/luma/videos -H 'authorization: Bearer any-token' "
            "-H 'content-type: application/json' "
            """-d '{"prompt": "Astronauts shuttle from space to volcano", "async": true}'"""
        )


DIALECT = AceDataDialect()
