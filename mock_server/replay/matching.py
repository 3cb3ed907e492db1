"""When a replayed request is "the same" as a recorded one: both are turned into flat
fields — ``method``, ``path``, ``query:NAME``, ``header:content-type``, and the JSON body
as dotted paths (``body.prompt``, ``body.keyframes.frame0.url``; a body that is no JSON
is the one field ``body``) — and compared field by field, so an unmatched request can be
told which fields differ from the nearest recording.

Volatile by default, so never compared: the body's ``timeout`` (a client's patience, not
its question), and the scheme, host and port of ``callback_url`` (the replaying client
listens somewhere else than the recording one did; the path still counts, since it is
the client's own choice; a recording whose callback_url is the recording proxy's own
receiver matches any). Headers other than the content type (of a request with a body)
never count: tokens are
aliases in a cassette, and user agents change with every release. For the same reason a
recorded query parameter or body value that is an alias (``<token-1>``, ``account-1``:
`mock_server.cassettes.redaction`) matches any value. ``--match-ignore``
relaxes more: a dotted body path, ``query:NAME`` or ``header:NAME``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..cassettes.format import decode_body
from ..cassettes.redaction import is_alias

VOLATILE_BODY_FIELDS = ("timeout",)
CALLBACK_FIELD = "callback_url"
# Where the recording proxy received the provider's callbacks (its own URL, not the
# client's): such a recorded callback_url matches any.
PROXY_RECEIVER = "/__luma-mock/callbacks/"
HEADERS_COMPARED = ("content-type",)


class _Anything:
    """A recorded value that any value matches."""

    def __repr__(self) -> str:
        return "<any>"


ANY = _Anything()


@dataclass(frozen=True)
class Asked:
    """A request as it arrived at the replay: header names in lower case."""

    method: str
    path: str
    query: str | None
    headers: Mapping[str, str]
    body: bytes


Fields = dict[str, Any]


class Matcher:
    """Flattens requests into fields, less the ones ``ignore`` names (`--match-ignore`)."""

    def __init__(self, ignore: Iterable[str] = ()) -> None:
        self.body_paths: list[str] = []
        self.names: set[str] = set()  # query:NAME and header:name, as fields are named
        for given in ignore:
            field = given.strip()
            kind, _, name = field.partition(":")
            if kind in ("query", "header") and name:
                self.names.add(f"{kind}:{name.lower() if kind == 'header' else name}")
            elif field and ":" not in field and not field.startswith(".") and ".." not in field:
                self.body_paths.append(f"body.{field}")
            else:
                raise ValueError(
                    f"--match-ignore {given!r}: give a dotted body path (prompt, "
                    "keyframes.frame0.url), query:NAME or header:NAME"
                )

    def recorded(self, request: Mapping[str, Any]) -> Fields:
        """The fields of a recorded request (an exchange's ``request``)."""
        body = request.get("body")
        value: Any = _NO_JSON
        if isinstance(body, Mapping) and "json" in body:
            value = body["json"]
        raw = b"" if value is not _NO_JSON else decode_body(body)
        headers = {k.lower(): str(v) for k, v in (request.get("headers") or {}).items()}
        return self._fields(
            str(request.get("method", "GET")),
            str(request.get("path", "")),
            request.get("query"),
            headers,
            value,
            raw,
            recorded=True,
        )

    def asked(self, asked: Asked) -> Fields:
        """The fields of a request that arrived."""
        value: Any = _NO_JSON
        if asked.body:
            try:
                value = json.loads(asked.body)
            except (ValueError, RecursionError):
                value = _NO_JSON
        return self._fields(
            asked.method, asked.path, asked.query, asked.headers, value, asked.body, recorded=False
        )

    def _fields(
        self,
        method: str,
        path: str,
        query: str | None,
        headers: Mapping[str, str],
        value: Any,
        raw: bytes,
        *,
        recorded: bool,
    ) -> Fields:
        fields: Fields = {"method": method.upper(), "path": path}
        for name, item in parse_qsl(query or "", keep_blank_values=True):
            fields.setdefault(f"query:{name}", []).append(item)
        if recorded:  # the recording's token was written as its alias: any token matches
            for name, items in list(fields.items()):
                if name.startswith("query:") and all(is_alias(item) for item in items):
                    fields[name] = ANY
        for name in HEADERS_COMPARED if raw or value is not _NO_JSON else ():
            if name in headers:
                fields[f"header:{name}"] = headers[name].split(";", 1)[0].strip().lower()
        if value is not _NO_JSON:
            if isinstance(value, dict):
                value = {k: v for k, v in value.items() if k not in VOLATILE_BODY_FIELDS}
                if isinstance(value.get(CALLBACK_FIELD), str):
                    value[CALLBACK_FIELD] = _callback_path(value[CALLBACK_FIELD], recorded)
            _flatten("body", value, fields, recorded)
        elif raw:
            fields["body"] = raw
        return {k: v for k, v in fields.items() if not self._ignored(k)}

    def _ignored(self, name: str) -> bool:
        if name in self.names:
            return True
        return any(name == p or name.startswith(p + ".") for p in self.body_paths)


def differences(recorded: Fields, asked: Fields) -> list[str]:
    """The fields in which ``asked`` differs from ``recorded`` (either side's extra ones
    included), in a stable order."""
    names = sorted(set(recorded) | set(asked), key=_field_order)
    return [
        name
        for name in names
        if not (recorded.get(name, _MISSING) is ANY and name in asked)
        and recorded.get(name, _MISSING) != asked.get(name, _MISSING)
    ]


def nearest(candidates: Sequence[tuple[int, Fields]], asked: Fields) -> tuple[int, list[str]]:
    """The seq of the recorded request closest to ``asked`` and the fields that differ:
    a differing method or path weighing more than any body field, then the path that
    shares the most leading segments (its own API's, not another dialect's whose body
    happens to differ less), then fewest differences, the earliest on a tie."""

    def distance(item: tuple[int, Fields]) -> tuple[int, int, int, int]:
        diff = differences(item[1], asked)
        heavy = sum(1 for name in diff if name in ("method", "path"))
        shared = _shared_segments(str(item[1].get("path", "")), str(asked.get("path", "")))
        return heavy, -shared, len(diff), item[0]

    seq, fields = min(candidates, key=distance)
    return seq, differences(fields, asked)


_NO_JSON = object()
_MISSING = object()


def _shared_segments(one: str, other: str) -> int:
    count = 0
    mine_all, theirs_all = one.strip("/").split("/"), other.strip("/").split("/")
    for mine, theirs in zip(mine_all, theirs_all, strict=False):  # paths differ in length
        if mine != theirs:
            break
        count += 1
    return count


def _field_order(name: str) -> tuple[int, str]:
    rank = {"method": 0, "path": 1}.get(name, 2 if name.startswith(("query:", "header:")) else 3)
    return rank, name


def _callback_path(url: str, recorded: bool) -> Any:
    try:
        path = urlsplit(url).path or "/"
    except ValueError:
        return url
    if recorded and path.startswith(PROXY_RECEIVER):
        return ANY
    return path


def _flatten(prefix: str, value: Any, into: Fields, recorded: bool = False) -> None:
    """Leaves by dotted path, each as its JSON text (so 1, "1" and true differ); an
    empty object or list is a leaf of its own; a recorded alias matches any value."""
    if value is ANY or (recorded and isinstance(value, str) and is_alias(value)):
        into[prefix] = ANY
    elif isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(f"{prefix}.{key}", item, into, recorded)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            _flatten(f"{prefix}.{index}", item, into, recorded)
    else:
        into[prefix] = json.dumps(value, sort_keys=True)
