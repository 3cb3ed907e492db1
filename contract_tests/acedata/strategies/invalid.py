"""Hypothesis strategies for invalid requests to the Luma API, each breaking exactly one
contract rule and labelled with it:

- `invalid_video_requests`, `invalid_task_requests` — JSON objects;
- `malformed_bodies` — not JSON, invalid UTF-8, JSON that is not an object;
- `invalid_requests` — all of them.

They yield `Invalid` (endpoint, rule, body or raw bytes, and the words the contract's
verdict must contain). `RULES` lists every rule name, `rules(endpoint)` those of one
endpoint (or ``"malformed"``), and `breaking(endpoint, rule)` gives one rule's strategy.
Each starts from a valid request of `requests` and changes one thing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from hypothesis import strategies as st

from ...contract import invalid as contract_invalid
from .requests import (
    TASKS,
    VIDEOS,
    _bundled,
    enum_values,
    extend_requests,
    field_schema,
    generate_requests,
    is_valid_field,
    retrieve_batch_requests,
    retrieve_requests,
    urls,
)

# -- invalid requests ---------------------------------------------------------------


class Invalid(contract_invalid.Invalid):
    """A request to ``/luma/<endpoint>`` (``videos`` or ``tasks``) breaking one rule."""

    @property
    def path(self) -> str:
        return f"/luma/{self.endpoint}"

    @property
    def schema(self) -> str:
        return f"acedata/{self.endpoint}-request"


_JSON_TYPES = {
    "string": st.text(max_size=8),
    "integer": st.integers(-5, 5),
    "number": st.floats(-5, 5, allow_nan=False).filter(lambda x: x != int(x)),
    "boolean": st.booleans(),
    "null": st.none(),
    "array": st.lists(st.integers(0, 3), max_size=2),
    "object": st.dictionaries(st.sampled_from("abc"), st.integers(0, 3), max_size=2),
}


def wrong_types(endpoint: str, name: str) -> st.SearchStrategy[Any]:
    """JSON values of every type the field's schema does not allow."""
    schema = field_schema(endpoint, name)
    allowed = schema.get("type")
    if allowed is None and "enum" in schema:
        allowed = sorted({_json_type(v) for v in schema["enum"]})
    allowed = {allowed} if isinstance(allowed, str) else set(allowed or ())
    if "number" in allowed:
        allowed.add("integer")  # JSON Schema: an integer is a number
    # null is no wrong type: it means "not given" (rules such as prompt-null cover it)
    others = [s for t, s in _JSON_TYPES.items() if t not in allowed and t != "null"]
    return st.one_of(*others).filter(lambda v: not is_valid_field(endpoint, name, v))


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return {str: "string", int: "integer", float: "number"}.get(type(value), "null")


Change = Callable[[dict[str, Any], Any], dict[str, Any]]


def _set(name: str) -> Change:
    return lambda body, value: {**body, name: value}


def _without(*names: str) -> Change:
    return lambda body, _: {k: v for k, v in body.items() if k not in names}


def _first_id_empty(body: dict[str, Any], _: Any) -> dict[str, Any]:
    return {**body, "ids": ["", *body["ids"][1:]]}


def _broken(
    endpoint: str,
    rule: str,
    expect: str,
    base: st.SearchStrategy[dict[str, Any]],
    change: Change,
    value: st.SearchStrategy[Any] | None = None,
) -> tuple[str, st.SearchStrategy[Invalid]]:
    """``(rule, strategy)``: valid bodies from ``base`` with one ``change`` applied."""
    values = st.none() if value is None else value
    made = st.builds(
        lambda body, v: Invalid(endpoint, rule, change(dict(body), v), expect=expect), base, values
    )
    return rule, made


def _dashed(name: str) -> str:
    return name.replace("_", "-")


_NOT_URLS = st.one_of(
    st.sampled_from(("example.com/a.jpg", "ftp://example.com/a.jpg", "http://", "not a url")),
    st.text("abc /:", max_size=10).filter(lambda s: not s.startswith("http")),
    urls(".jpg").map(lambda u: u + "\n"),  # a trailing newline must not sneak through
)


@cache
def _video_rules() -> dict[str, st.SearchStrategy[Invalid]]:
    # Each base is a valid async request: a server that wrongly accepts one answers at once.
    generate = generate_requests(frames="none", mode="async")
    extend = extend_requests(by="id", mode="async")
    ratios = set(enum_values(VIDEOS, "aspect_ratio"))
    blank = st.text(" \t\n", min_size=1, max_size=4)
    odd_ratio = st.text("0123456789:x", max_size=6).filter(lambda r: r not in ratios)
    not_positive = st.one_of(st.just(0), st.floats(-1e6, 0).map(lambda x: x or 0))
    v = VIDEOS
    rules = [
        _broken(v, "prompt-missing", "prompt is required", generate, _without("prompt")),
        _broken(v, "prompt-empty", "prompt: must not be empty", generate, _set("prompt"),
                st.just("")),
        _broken(v, "prompt-blank", "prompt: must not be blank", generate, _set("prompt"), blank),
        _broken(v, "prompt-null", "prompt is required", generate, _set("prompt"), st.none()),
        _broken(v, "aspect-ratio-unknown", "aspect_ratio:", generate, _set("aspect_ratio"),
                odd_ratio),
        _broken(v, "action-unknown", "action:", generate, _set("action"),
                st.sampled_from(("create", "Generate", "extend ", ""))),
        _broken(v, "extend-without-video", "video_id or video_url is required", extend,
                _without("video_id", "video_url")),
        _broken(v, "extend-video-null", "video_id or video_url is required", extend,
                _set("video_id"), st.none()),
        _broken(v, "video-id-empty", "video_id: must not be empty", extend, _set("video_id"),
                st.just("")),
        _broken(v, "timeout-not-positive", "timeout: must be greater than 0", generate,
                _set("timeout"), not_positive),
    ]  # fmt: skip
    for name in ("start_image_url", "end_image_url", "callback_url"):
        base = generate_requests(mode="async")
        rules.append(
            _broken(v, f"{_dashed(name)}-not-url", f"{name}:", base, _set(name), _NOT_URLS)
        )
    by_url = extend_requests(by="url", mode="async")
    rules.append(
        _broken(v, "video-url-not-url", "video_url:", by_url, _set("video_url"), _NOT_URLS)
    )
    for name in _bundled(VIDEOS)["properties"]:  # every field, with every type it refuses
        base = extend if name == "video_id" else generate
        rules.append(_broken(v, f"{_dashed(name)}-wrong-type", f"{name}:", base, _set(name),
                             wrong_types(VIDEOS, name)))  # fmt: skip
    return dict(rules)


@cache
def _task_rules() -> dict[str, st.SearchStrategy[Invalid]]:
    retrieve, batch, t = retrieve_requests(), retrieve_batch_requests(), TASKS
    return dict([
        _broken(t, "action-unknown", "action:", retrieve, _set("action"),
                st.sampled_from(("get", "list", "Retrieve", ""))),
        _broken(t, "retrieve-without-id", "id is required", retrieve, _without("id")),
        _broken(t, "id-null", "id is required", retrieve, _set("id"), st.none()),
        _broken(t, "id-empty", "id: must not be empty", retrieve, _set("id"), st.just("")),
        _broken(t, "id-wrong-type", "id:", retrieve, _set("id"), wrong_types(TASKS, "id")),
        _broken(t, "batch-without-ids", "ids is required", batch, _without("ids")),
        _broken(t, "ids-null", "ids is required", batch, _set("ids"), st.none()),
        _broken(t, "ids-empty", "ids: must have at least 1", batch, _set("ids"), st.just([])),
        _broken(t, "ids-wrong-type", "ids:", batch, _set("ids"), wrong_types(TASKS, "ids")),
        _broken(t, "ids-item-empty", "ids[0]: must not be empty", batch, _first_id_empty),
    ])  # fmt: skip


@cache
def _malformed_rules(endpoint: str | None) -> dict[str, st.SearchStrategy[Invalid]]:
    endpoints = st.sampled_from((VIDEOS, TASKS) if endpoint is None else (endpoint,))

    def raw(rule: str, data: st.SearchStrategy[bytes]) -> st.SearchStrategy[Invalid]:
        return st.builds(lambda e, b: Invalid(e, rule, raw=b), endpoints, data)

    not_json = st.sampled_from((b"{prompt: 'a cat'}", b'{"prompt": "a cat"', b"prompt=a+cat"))
    not_utf8 = st.sampled_from((b'{"prompt": "\xff\xfe"}', b'{"prompt": "caf\xe9"}'))
    others = st.one_of(
        st.lists(st.integers(0, 3), max_size=2), st.text(max_size=8), st.integers(), st.none()
    )
    not_object = st.builds(
        lambda e, value: Invalid(e, "body-not-object", value, expect="must be object"),
        endpoints,
        others,
    )
    return {
        "body-not-json": raw("body-not-json", not_json),
        "body-not-utf8": raw("body-not-utf8", not_utf8),
        "body-empty": raw("body-empty", st.just(b"")),
        "body-not-object": not_object,
    }


def invalid_video_requests() -> st.SearchStrategy[Invalid]:
    """Bodies of ``POST /luma/videos`` that each break one rule, labelled with it."""
    return st.one_of(*_video_rules().values())


def invalid_task_requests() -> st.SearchStrategy[Invalid]:
    """Bodies of ``POST /luma/tasks`` that each break one rule, labelled with it."""
    return st.one_of(*_task_rules().values())


def malformed_bodies(endpoint: str | None = None) -> st.SearchStrategy[Invalid]:
    """Bodies that are not a JSON object: not JSON, not UTF-8, empty, or another JSON
    value (array, string, number, null); for one endpoint or both."""
    return st.one_of(*_malformed_rules(endpoint).values())


def invalid_requests() -> st.SearchStrategy[Invalid]:
    """Every invalid request above."""
    return st.one_of(invalid_video_requests(), invalid_task_requests(), malformed_bodies())


def breaking(endpoint: str, rule: str) -> st.SearchStrategy[Invalid]:
    """Requests that break one named rule (``"videos"``, ``"prompt-empty"``); ``endpoint``
    is ``videos``, ``tasks`` or ``malformed``."""
    return _rule_table(endpoint)[rule]


def rules(endpoint: str) -> tuple[str, ...]:
    """The names of the rules broken for ``videos``, ``tasks`` or ``malformed``."""
    return tuple(_rule_table(endpoint))


def _rule_table(endpoint: str) -> dict[str, st.SearchStrategy[Invalid]]:
    if endpoint == VIDEOS:
        return _video_rules()
    return _task_rules() if endpoint == TASKS else _malformed_rules(None)


RULES: tuple[str, ...] = tuple(dict.fromkeys([*rules(VIDEOS), *rules(TASKS), *rules("malformed")]))
