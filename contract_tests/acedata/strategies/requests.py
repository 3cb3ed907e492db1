"""Hypothesis strategies for the Luma API's valid requests, from ``schemas/acedata/``.

Every field's values come from the contract's own (bundled) schema through
``hypothesis_jsonschema.from_schema``; where a schema is too wide for a useful or safe
test we narrow a *copy* of it (a ``maxLength`` on prompts, a range on ``timeout``) or
filter with the schema's own validator, so a schema change moves the data with it.

Valid requests, one strategy per shape:

- `generate_requests` — text, first frame, last frame or both frames;
- `extend_requests` — by ``video_id`` or by ``video_url`` (optionally with an end frame);
- `video_requests` — any of the above;
- `retrieve_requests`, `retrieve_batch_requests`, `task_requests` — ``POST /luma/tasks``.

Each takes ``mode``: ``"sync"`` (held until the result), ``"callback"`` (needs
``callback_url``) or ``"async"``; `Mode` names them. Generated URLs only point at
reserved names (``example.com``, ``*.example.test``, ``*.example.org``) or loopback,
and a callback goes only to the URL the caller passes in (`callback_urls`).

The field helpers (`field_schema`, `field_values`, `is_valid_field`, `urls`, …) are
what `invalid` builds its broken requests from.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, Literal

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator

from ...contract import schema as contract

Mode = Literal["sync", "callback", "async"]
Frames = Literal["none", "first", "last", "both"]
MODES: tuple[Mode, ...] = ("sync", "callback", "async")
FRAMES: tuple[Frames, ...] = ("none", "first", "last", "both")

# Reserved for documentation and testing (RFC 2606 / RFC 6761): nothing real answers.
SAFE_HOSTS = ("example.com", "cdn.example.test", "media.example.org", "127.0.0.1")
DEFAULT_CALLBACK_URL = "http://callback.example.test/luma"
PROMPT_MAX = 40  # keeps generation fast and curl lines short
SYNC_TIMEOUT = (120.0, 900.0)  # long enough that a healthy server answers a sync call

VIDEOS, TASKS = "videos", "tasks"


# -- the contract's pieces ----------------------------------------------------------


@cache
def _bundled(endpoint: str) -> dict[str, Any]:
    return contract.bundled(f"acedata/{endpoint}-request")


def field_schema(endpoint: str, name: str) -> dict[str, Any]:
    """A copy of the schema of one request field (``"videos"``/``"tasks"``, field name),
    without the null an optional field also allows: null means "not given", so it is no
    value of the field (`nullable` adds it back to a strategy)."""
    return _without_null(copy.deepcopy(_bundled(endpoint)["properties"][name]))


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    branches = schema.get("anyOf", [])
    if {"type": "null"} in branches:
        rest = [b for b in branches if b != {"type": "null"}]
        others = {k: v for k, v in schema.items() if k != "anyOf"}
        return {**others, **rest[0]} if len(rest) == 1 else {**others, "anyOf": rest}
    if isinstance(schema.get("type"), list) and "null" in schema["type"]:
        kept = [t for t in schema["type"] if t != "null"]
        schema["type"] = kept[0] if len(kept) == 1 else kept
    if None in schema.get("enum", ()):
        schema["enum"] = [v for v in schema["enum"] if v is not None]
    return schema


def nullable(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``values``, or null: how some clients (the provider's MCP server) send an
    optional field they were not given."""
    return st.one_of(values, st.none())


@cache
def _field_validator(endpoint: str, name: str) -> Draft202012Validator:
    return Draft202012Validator(field_schema(endpoint, name))


def is_valid_field(endpoint: str, name: str, value: Any) -> bool:
    """Whether ``value`` satisfies the schema of that field on its own."""
    return _field_validator(endpoint, name).is_valid(value)


def field_values(endpoint: str, name: str, **narrowing: Any) -> st.SearchStrategy[Any]:
    """Values of a field drawn from its schema, with extra JSON Schema keywords
    (``maxLength=…``) to narrow it."""
    return from_schema({**field_schema(endpoint, name), **narrowing})


def enum_values(endpoint: str, name: str) -> tuple[Any, ...]:
    """The values an enum field allows, read from the schema."""
    return tuple(field_schema(endpoint, name)["enum"])


# -- field values -------------------------------------------------------------------


def prompts(max_size: int = PROMPT_MAX) -> st.SearchStrategy[str]:
    """Non-blank prompts, as ``common.json#/$defs/Prompt`` allows, at most ``max_size``."""
    return field_values(VIDEOS, "prompt", maxLength=max_size)


def aspect_ratios() -> st.SearchStrategy[str]:
    return st.sampled_from(enum_values(VIDEOS, "aspect_ratio"))


def timeouts(low: float = 0.0, high: float = SYNC_TIMEOUT[1]) -> st.SearchStrategy[float]:
    """Seconds for ``timeout``: the schema's range (> 0), narrowed to [low, high]."""
    narrowing: dict[str, Any] = {"maximum": high}
    if low > 0:
        narrowing["minimum"] = low
    return field_values(VIDEOS, "timeout", **narrowing)


_PATH_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_"


def urls(suffix: str = "", hosts: Sequence[str] = SAFE_HOSTS) -> st.SearchStrategy[str]:
    """http(s) URLs on reserved hosts, kept only if the contract's ``HttpUrl`` accepts
    them (generating from its pattern would invent real hosts)."""
    path = st.text(_PATH_CHARS, min_size=1, max_size=12)
    built = st.builds(
        lambda scheme, host, parts: f"{scheme}://{host}/{'/'.join(parts)}{suffix}",
        st.sampled_from(("http", "https")),
        st.sampled_from(tuple(hosts)),
        st.lists(path, min_size=1, max_size=3),
    )
    return built.filter(lambda url: is_valid_field(VIDEOS, "video_url", url))


def image_urls() -> st.SearchStrategy[str]:
    return urls(".jpg")


def video_file_urls() -> st.SearchStrategy[str]:
    return urls(".mp4")


def callback_urls(receiver_url: str) -> st.SearchStrategy[str]:
    """URLs on the caller's own receiver (a query string tells cases apart): a generated
    callback never goes anywhere else."""
    if not is_valid_field(VIDEOS, "callback_url", receiver_url):
        raise ValueError(f"{receiver_url!r} is not a URL the contract allows for callback_url")
    joiner = "&" if "?" in receiver_url else "?"
    return st.integers(0, 9999).map(lambda n: f"{receiver_url}{joiner}case={n}")


def identifiers() -> st.SearchStrategy[str]:
    """Task or video ids as the schema allows (any non-empty string), kept short."""
    return field_values(TASKS, "id", maxLength=36)


def _as_strategy(value: st.SearchStrategy[Any] | Sequence[Any] | None, default: Any) -> Any:
    if value is None:
        return default
    if isinstance(value, st.SearchStrategy):
        return value
    if isinstance(value, str):
        return st.just(value)
    return st.sampled_from(tuple(value))


# -- valid requests ---------------------------------------------------------------


def _mode_fields(mode: Mode, callback_url: str | None) -> dict[str, st.SearchStrategy[Any]]:
    if mode == "callback":
        return {"callback_url": callback_urls(callback_url or DEFAULT_CALLBACK_URL)}
    if mode == "async":
        return {"async": st.just(True)}
    return {}


def _optional(mode: Mode, unused: Sequence[str] = ()) -> dict[str, st.SearchStrategy[Any]]:
    """The optional fields of a body in ``mode``, each sometimes sent as null; the fields
    in ``unused`` (and those of the modes not taken) only ever as null."""
    optional = {
        "aspect_ratio": aspect_ratios(),
        "loop": field_values(VIDEOS, "loop"),
        "enhancement": field_values(VIDEOS, "enhancement"),
        "timeout": timeouts(*SYNC_TIMEOUT) if mode == "sync" else timeouts(),
    }
    if mode == "sync":
        # async: false is the same as leaving it out; only sync calls may say so.
        optional["async"] = st.just(False)
    nulls = [*unused, *(() if mode == "callback" else ("callback_url",))]
    if mode == "callback":
        nulls.append("async")
    return {
        **{name: nullable(values) for name, values in optional.items()},
        **{name: st.none() for name in nulls if name not in optional},
    }


def _one_mode(mode: Mode | None, build: Callable[[Mode], st.SearchStrategy[Any]]) -> Any:
    return build(mode) if mode is not None else st.one_of(*(build(m) for m in MODES))


def generate_requests(
    frames: Frames | None = None, mode: Mode | None = None, callback_url: str | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies of a valid generate: text only, first frame, last frame or both."""

    def build(mode: Mode, frames: Frames) -> st.SearchStrategy[dict[str, Any]]:
        required: dict[str, st.SearchStrategy[Any]] = {"prompt": prompts()}
        if frames in ("first", "both"):
            required["start_image_url"] = image_urls()
        if frames in ("last", "both"):
            required["end_image_url"] = image_urls()
        required.update(_mode_fields(mode, callback_url))
        frames_unused = [f for f in ("start_image_url", "end_image_url") if f not in required]
        optional = {"action": nullable(st.just("generate")), **_optional(mode, frames_unused)}
        return st.fixed_dictionaries(required, optional=optional)

    shapes = FRAMES if frames is None else (frames,)
    return _one_mode(mode, lambda m: st.one_of(*(build(m, f) for f in shapes)))


def extend_requests(
    by: Literal["id", "url"] | None = None,
    mode: Mode | None = None,
    callback_url: str | None = None,
    video_ids: st.SearchStrategy[str] | Sequence[str] | None = None,
    video_urls: st.SearchStrategy[str] | Sequence[str] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies of a valid extend, by ``video_id`` or ``video_url``, sometimes with an end
    frame. A server only extends videos it made: pass their ids/URLs in."""
    ids = _as_strategy(video_ids, identifiers())
    sources = _as_strategy(video_urls, video_file_urls())

    def build(mode: Mode, by: str) -> st.SearchStrategy[dict[str, Any]]:
        required: dict[str, st.SearchStrategy[Any]] = {
            "action": st.just("extend"),
            "prompt": prompts(),
        }
        required["video_id" if by == "id" else "video_url"] = ids if by == "id" else sources
        required.update(_mode_fields(mode, callback_url))
        other = "video_url" if by == "id" else "video_id"
        optional = {"end_image_url": nullable(image_urls()), **_optional(mode, [other])}
        optional.pop("aspect_ratio")  # an extension keeps its source's size
        return st.fixed_dictionaries(required, optional=optional)

    ways = ("id", "url") if by is None else (by,)
    return _one_mode(mode, lambda m: st.one_of(*(build(m, w) for w in ways)))


def video_requests(
    mode: Mode | None = None,
    callback_url: str | None = None,
    video_ids: st.SearchStrategy[str] | Sequence[str] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Any valid body of ``POST /luma/videos``."""
    return st.one_of(
        generate_requests(mode=mode, callback_url=callback_url),
        extend_requests(mode=mode, callback_url=callback_url, video_ids=video_ids),
    )


def retrieve_requests(
    ids: st.SearchStrategy[str] | Sequence[str] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """``{"action": "retrieve", "id": …}`` for one of ``ids`` (any id if none given);
    ``action`` is sometimes left out or null (retrieve is its default)."""
    return st.fixed_dictionaries(
        {"id": _as_strategy(ids, identifiers())},
        optional={"action": nullable(st.just("retrieve"))},
    )


def retrieve_batch_requests(
    ids: st.SearchStrategy[str] | Sequence[str] | None = None, max_size: int = 5
) -> st.SearchStrategy[dict[str, Any]]:
    """``{"action": "retrieve_batch", "ids": [...]}`` with 1..max_size of ``ids``."""
    one = _as_strategy(ids, identifiers())
    return st.fixed_dictionaries(
        {"action": st.just("retrieve_batch"), "ids": st.lists(one, min_size=1, max_size=max_size)}
    )


def task_requests(
    ids: st.SearchStrategy[str] | Sequence[str] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(retrieve_requests(ids), retrieve_batch_requests(ids))
