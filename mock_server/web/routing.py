"""Where a request goes among a dialect's routes: exact paths (a dict lookup, in `api`),
then route templates with path parameters (``/generations/{id}``), tried only when the
exact lookup misses, so a dialect of exact paths pays nothing for them."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import TypeVar
from urllib.parse import parse_qsl

NO_BODY = frozenset({"GET", "DELETE", "HEAD"})  # their calls are named by path and query
_PARAM = re.compile(r"\{(\w+)\}")
_SLASHES = re.compile("/{2,}")

T = TypeVar("T")  # what a template leads to (a route, with whatever serves it)


def compile_templates(templates: Mapping[str, T]) -> list[tuple[re.Pattern[str], T]]:
    """``/generations/{id}`` -> a pattern with a named group per parameter (one path
    segment each), in the dialect's order."""
    compiled = []
    for template, route in templates.items():
        pieces = _PARAM.split(template)  # literal, name, literal, name, ..., literal
        regex = "".join(
            f"(?P<{piece}>[^/]+)" if index % 2 else re.escape(piece)
            for index, piece in enumerate(pieces)
        )
        compiled.append((re.compile(regex), route))
    return compiled


def match_template(
    templates: Sequence[tuple[re.Pattern[str], T]], path: str
) -> tuple[T | None, dict[str, str] | None]:
    """The first template ``path`` matches, with its parameters (already percent-decoded:
    WSGI's PATH_INFO is)."""
    for pattern, route in templates:
        match = pattern.fullmatch(path)
        if match is not None:
            return route, match.groupdict()
    return None, None


def with_query(params: dict[str, str], query: str | None) -> dict[str, str]:
    """The path parameters and the query's names (the first value of each); a path
    parameter wins over a query name."""
    if not query:
        return params
    return {**dict(reversed(parse_qsl(query))), **params}


def single_slashes(path: str) -> str:
    """``path`` with every run of slashes read as one."""
    return _SLASHES.sub("/", path)


@functools.cache
def status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"
