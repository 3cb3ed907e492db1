"""The contract's documented examples: each dialect's labelled payloads (its pack's
folder, ``fixtures/examples/<dialect>/`` for the built-in ones) and sample media
(``fixtures/media/<dialect>/``). Each example names the schema it must satisfy, or that
must reject it and why."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .packs import pack, packs


@dataclass(frozen=True)
class Fixture:
    """A documented example payload, labelled with the schema it must satisfy (``valid``)
    or that must reject it, and why."""

    name: str
    schema: str
    valid: bool
    payload: Any
    source: str = ""
    why: str = ""
    expect: str = ""  # for invalid ones: words the readable error must contain
    strict: bool = False


@cache
def fixtures() -> tuple[Fixture, ...]:
    """Every registered dialect's examples."""
    return tuple(f for p in packs() for f in dialect_fixtures(p.name))


@cache
def dialect_fixtures(dialect: str) -> tuple[Fixture, ...]:
    """The labelled examples of one dialect, named ``<dialect>/<stem>``; their
    ``schema`` is a dialect-qualified name too."""
    return _fixtures_in(pack(dialect).examples, f"{dialect}/")


def _fixtures_in(folder: Path, prefix: str) -> tuple[Fixture, ...]:
    found = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        found.append(
            Fixture(
                name=prefix + path.stem,
                schema=data["schema"],
                valid=data["valid"],
                payload=data["payload"],
                source=data.get("source", ""),
                why=data.get("why", ""),
                expect=data.get("expect", ""),
                strict=data.get("strict", False),
            )
        )
    return tuple(found)


def fixture(name: str) -> Fixture:
    for f in fixtures():
        if f.name == name:
            return f
    raise KeyError(f"no fixture named {name!r}")


def media_dir(dialect: str) -> Path:
    """One dialect's sample media."""
    return pack(dialect).media
