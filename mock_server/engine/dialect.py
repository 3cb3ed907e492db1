"""The seam between the engine and the API it speaks: what the engine and the HTTP layer
ask of a dialect.

A dialect is one object that knows one API's wire: its paths, its answer shapes, its
error body, its media. The engine holds it (``engine.dialect``) and the HTTP layer
reaches it only through the engine, so the layer never imports a dialect package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .errors import ErrorInfo
from .tasks import Task


@dataclass(frozen=True)
class Route:
    """One exact path a dialect serves through the engine: its endpoint's name (what
    `Call.endpoint` and the scenario rules' ``endpoint`` say) and the methods it allows
    (OPTIONS among them if it is to be answered with ``Allow``)."""

    endpoint: str
    methods: frozenset[str]
    allow: str = field(init=False)  # the Allow header's value, joined once

    def __post_init__(self) -> None:
        object.__setattr__(self, "allow", ", ".join(sorted(self.methods)))


class Dialect(Protocol):
    """One API's wire, for the engine and the HTTP layer."""

    name: str
    # Exact path -> route: the calls the HTTP layer hands to the engine.
    routes: Mapping[str, Route]
    # werkzeug rule (with a ``task_id`` variable) -> media kind: public media URLs.
    media_routes: Mapping[str, str]
    # Where this API's clients send requests by default (the in-process transports
    # answer these).
    base_urls: tuple[str, ...]

    def error_codes(self) -> Mapping[str, ErrorInfo]:
        """Every error code this API answers with, with its status and default message
        (`ENGINE_CODES` among them); the engine registers them (`engine.errors`)."""
        ...

    def error_body(
        self,
        code: str,
        message: str,
        trace_id: str | None = None,
        task_id: str | None = None,
    ) -> dict[str, Any]:
        """An error as this API answers it. Every error the HTTP layer sends — the
        server's own refusals included — is rendered here."""
        ...

    def describe(self, endpoint: str, fields: Any) -> tuple[str | None, str | None]:
        """A call's action and its prompt (or None), for the scenario rules' ``action``
        and ``prompt_contains``; asked only when there are rules."""
        ...

    def result(self, task: Task) -> dict[str, Any]:
        """A completed task's answer (kept as ``task.result``)."""
        ...

    def response(self, task: Task) -> dict[str, Any]:
        """What a task says of itself now (its result, its error, or that it runs): the
        body of its callback."""
        ...

    def record(self, task: Task) -> dict[str, Any]:
        """The task as a retrieve answers it (called under the engine's lock)."""
        ...

    def media_file(self, task: Task, kind: str) -> tuple[Path, str]:
        """The file behind a completed task's media URL of ``kind``, and its mimetype."""
        ...

    def openapi(self) -> dict[str, Any]:
        """The API's OpenAPI document (served at /openapi.json)."""
        ...

    def banner_example(self, url: str) -> str:
        """A one-line call to try against the fake at ``url`` (the start banner's)."""
        ...
