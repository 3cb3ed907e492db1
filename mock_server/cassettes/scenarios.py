"""From a recording to the fake: a cassette's creates as `serve --config` scenario rules.

`luma-mock cassette scenarios FILE` reads what the provider did with each recorded create
(one of a pack's billable calls, `role: create`) and writes one rule per create, in the
order they were made, each matching once (`times = 1`) on its dialect and path:

- refused (a 4xx/5xx answer): ``reject`` with the recorded status (or the recorded code,
  when it is a documented one with that status), message and ``Retry-After``;
- ended ``failed``: ``fail`` with the recorded error's code (``api_error`` when the
  provider's is not a documented one) and message, ``after`` its recorded work time;
- otherwise: ``delay`` with the recorded work time, ``queue`` the time it spent pending.

Times come from the task's state timeline as the client saw it (the create's answer, its
polls and the callbacks that reached it): the task left the queue when an answer first
showed it past ``pending``, and ended when one first showed it ``completed`` or
``failed``. A poll sees a change late by
up to its interval, so the times are what the client observed, never shorter. A create
whose end was never seen keeps the fake's own work time (only its queue is given).

The fake then plays the session with fresh ids: the same answers in the same order, on
its own clock. Rules match by path, not by prompt: a test may say anything, as long as it
makes its calls in the recorded order. Refused polls are not converted (a rule cannot
pick out "the third poll"); the recorded callbacks follow from the rules' outcomes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..engine.errors import codes as registered_codes
from .format import Cassette, read_cassette

PENDING, PROCESSING, COMPLETED, FAILED = "pending", "processing", "completed", "failed"
FINISHED = (COMPLETED, FAILED)
_GLOB_SPECIALS = str.maketrans({"*": "[*]", "?": "[?]", "[": "[[]"})


@dataclass(frozen=True)
class Observation:
    """One answer about a task: when it was given (seconds since the recording started)
    and the state it showed, with the answer's body (for a failure's error)."""

    at: float
    state: str
    body: Any


def _json_of(body: Mapping[str, Any] | None) -> Any:
    return body.get("json") if isinstance(body, Mapping) else None


def _error_of(answer: Any) -> tuple[str | None, str | None]:
    """(code, message) of an error as either dialect writes one: AceData's envelope
    ``{"error": {"code", "message"}}`` (a task record nests it under ``response``), the
    Dream Machine's ``{"detail": …}`` or a generation's ``failure_reason``."""
    if not isinstance(answer, Mapping):
        return None, None
    error = answer.get("error")
    if isinstance(error, Mapping):
        code, message = error.get("code"), error.get("message")
        return (code if isinstance(code, str) else None), (
            message if isinstance(message, str) else None
        )
    for key in ("failure_reason", "detail"):
        if isinstance(answer.get(key), str):
            return None, answer[key]
    for nested in ("response", "data"):
        found = _error_of(answer.get(nested))
        if found != (None, None):
            return found
    return None, None


def _path_glob(path: str, task_ids: Iterable[str]) -> str:
    """The create's path as a rule's glob: literal, but for a segment that is a recorded
    task id (an upscale of generation X), which matches any id — the fake's are fresh."""
    ids = set(task_ids)
    segments = [
        "*" if segment in ids else segment.translate(_GLOB_SPECIALS) for segment in path.split("/")
    ]
    return "/".join(segments)


def _seconds(value: float) -> float:
    return round(max(value, 0.0), 3)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    try:
        return _seconds(float(value)) if value is not None else None
    except ValueError:  # an HTTP date: the fake's rules speak seconds only
        return None


class _Timeline:
    """Each recorded task's observations (answers and callbacks), in time order."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.seen: dict[str, list[Observation]] = {}
        for event in events:
            task, state = event.get("task"), event.get("state")
            if event.get("own") or not task or not state:
                continue
            if event.get("type") == "exchange":
                body = _json_of(event.get("response", {}).get("body"))
                # An answer shows the state at the moment it was given: its end.
                at = float(event.get("at", 0.0)) + float(event.get("duration", 0.0))
            elif event.get("type") == "callback":
                # A client that waits on callbacks polls nothing: its task's end (and
                # failure) is known from the callback alone, sent at its arrival.
                body = _json_of(event.get("request", {}).get("body"))
                at = float(event.get("at", 0.0))
            else:
                continue
            self.seen.setdefault(task, []).append(Observation(at, state, body))
        for seen in self.seen.values():
            seen.sort(key=lambda observation: observation.at)

    def first(self, task: str, states: tuple[str, ...]) -> Observation | None:
        return next((o for o in self.seen.get(task, []) if o.state in states), None)

    def was_pending(self, task: str) -> bool:
        return any(o.state == PENDING for o in self.seen.get(task, []))


def _code(code: str | None, status: int | None, known: Mapping[str, int]) -> str | None:
    """The recorded code when the fake knows it (with the recorded status, if given)."""
    if code is None or code not in known:
        return None
    return code if status is None or known[code] == status else None


def rules_from(cassette: Cassette, known_codes: Mapping[str, int] | None = None) -> list[dict]:
    """The scenario rules (plain data, as `Scenarios.add` takes them) for ``cassette``'s
    creates, in order. ``known_codes`` (code -> status): the documented error codes;
    by default the registered ones (load the dialects first)."""
    known = dict(known_codes) if known_codes is not None else _registered()
    creates = [
        e for e in cassette.of_type("exchange") if e.get("role") == "create" and not e.get("own")
    ]
    task_ids = [e["task"] for e in creates if e.get("task")]
    timeline = _Timeline(cassette.events)
    rules = []
    for number, create in enumerate(creates, start=1):
        request, response = create["request"], create["response"]
        status = int(response.get("status", 200))
        match = {"dialect": create["dialect"], "path": _path_glob(request["path"], task_ids)}
        name = f"create {number} (seq {create['seq']}) {request['method']} {request['path']}: "
        if status >= 400:
            then = _refusal(response, status, known)
            name += f"refused {status}"
        else:
            then = _outcome(create, timeline, known)
            name += next(iter(then))
        rules.append({"name": name, "match": match, "then": then, "times": 1})
    return rules


def _registered() -> dict[str, int]:
    try:
        return {code: info.status for code, info in registered_codes().items()}
    except RuntimeError:  # no dialect loaded: refusals are given by status alone
        return {}


def _refusal(response: Mapping[str, Any], status: int, known: Mapping[str, int]) -> dict:
    code, message = _error_of(_json_of(response.get("body")))
    then: dict[str, Any] = {"reject": _code(code, status, known) or status}
    if message:
        then["message"] = message
    retry_after = _retry_after(response.get("headers", {}))
    if retry_after is not None:
        then["retry_after"] = retry_after
    return then


def _outcome(create: Mapping[str, Any], timeline: _Timeline, known: Mapping[str, int]) -> dict:
    task = create.get("task")
    made = float(create.get("at", 0.0))  # the task exists from the request on
    started = timeline.first(task, (PROCESSING, *FINISHED)) if task else None
    ended = timeline.first(task, FINISHED) if task else None
    queue = 0.0
    if task and started is not None and timeline.was_pending(task):
        queue = _seconds(started.at - made)
    work = _seconds(ended.at - made - queue) if ended is not None else None
    if ended is not None and ended.state == FAILED:
        code, message = _error_of(ended.body)
        then: dict[str, Any] = {"fail": _code(code, None, known) or "api_error"}
        if message:
            then["message"] = message
        then["after"] = work
    elif work is not None:
        then = {"delay": work}
    else:
        then = {"succeed": True}
    then["queue"] = queue
    return then


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a TOML basic string, but for DEL, which TOML wants escaped.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def _toml_key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else _toml_value(key)


def to_toml(rules: list[dict], source: str) -> str:
    """``rules`` as a `serve --config` file: ``[[luma-mock.scenarios]]`` tables."""
    lines = [
        f"# Scenario rules from the cassette {source} (luma-mock cassette scenarios):",
        "# one per recorded create, in order, each matching once. Times in the fake's seconds.",
        "[luma-mock]",
    ]
    for rule in rules:
        lines.append("")
        lines.append("[[luma-mock.scenarios]]")
        lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in rule.items())
    return "\n".join(lines) + "\n"


def convert(path: str | os.PathLike[str], known_codes: Mapping[str, int] | None = None) -> str:
    """The `serve --config` TOML for the cassette at ``path``; ValueError if it has no
    header (not a cassette) or a line that is not JSON."""
    cassette = read_cassette(path)
    if cassette.header is None:
        raise ValueError(f"{path} is not a cassette: line 1 is not its header")
    if cassette.broken:
        raise ValueError("; ".join(message for _, message in cassette.broken))
    return to_toml(rules_from(cassette, known_codes), os.fspath(path))
