"""The dialects the contract knows: for each, where its schemas and labelled examples
live, where its API sits under a base URL, its error schema, and which of its calls may
cost money. The suites and the checks ask this module instead of hard-coding one API's
paths, so the AceDataCloud path stays what it was and the Dream Machine one sits beside
it.

    DIALECTS["dream-machine"].schema("generation")  # 'dream-machine/generation'
    dialect("acedata").path_prefix                   # ''
"""

from __future__ import annotations

from dataclasses import dataclass

from .examples import Fixture, dialect_fixtures, fixtures

ACEDATA, DREAM_MACHINE = "acedata", "dream-machine"


@dataclass(frozen=True)
class Dialect:
    """One API the contract describes.

    ``schema_prefix``: how its schema names begin (``dream-machine/``); ``path_prefix``:
    where its endpoints sit under the service's host (``/dream-machine/v1``);
    ``billable``: (method, path) pairs under that prefix whose call may start a paid
    generation; ``real_service``: the host of the real API.
    """

    name: str
    schema_prefix: str
    path_prefix: str
    error_schema: str
    billable: tuple[tuple[str, str], ...]
    real_service: str

    def schema(self, name: str) -> str:
        return self.schema_prefix + name

    def examples(self) -> tuple[Fixture, ...]:
        return dialect_fixtures(self.name) if self.schema_prefix else fixtures()

    def is_billable(self, method: str, path: str) -> bool:
        """Whether a call may start a paid generation. ``path`` is without the query;
        the dialect's prefix may be there or not (the SDKs' mocks serve at the root)."""
        if self.path_prefix and path.startswith(self.path_prefix):
            path = path[len(self.path_prefix) :]
        if (method.upper(), path.rstrip("/") or "/") in self.billable:
            return True
        # Upscale and audio of an existing generation make a new, paid one.
        parts = path.strip("/").split("/")
        return (
            self.name == DREAM_MACHINE
            and method.upper() == "POST"
            and len(parts) == 3
            and parts[0] == "generations"
            and parts[2] in ("upscale", "audio")
        )


DIALECTS: dict[str, Dialect] = {
    ACEDATA: Dialect(
        ACEDATA, "", "", "error", (("POST", "/luma/videos"),), "https://api.acedata.cloud"
    ),
    DREAM_MACHINE: Dialect(
        DREAM_MACHINE,
        "dream-machine/",
        "/dream-machine/v1",
        "dream-machine/error",
        (
            ("POST", "/generations"),  # the create path before SDK 1.12
            ("POST", "/generations/video"),
            ("POST", "/generations/image"),
            ("POST", "/generations/image/reframe"),
            ("POST", "/generations/video/reframe"),
            ("POST", "/generations/video/modify"),
        ),
        "https://api.lumalabs.ai",
    ),
}


def dialect(name: str) -> Dialect:
    """The dialect called ``name``; ValueError naming the known ones otherwise."""
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown dialect {name!r}; known: {', '.join(DIALECTS)}") from None
