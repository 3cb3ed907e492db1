"""Scenarios: rules that pick a request out and decide how it goes.

A rule matches on the endpoint, the action, body fields, a substring of the prompt, the
``X-Luma-Mock-Scenario`` header or the token, and gives an outcome — or a sequence of
outcomes, one per matching request. The first live rule that matches wins; a rule with
``times`` is spent after that many matches ("fail twice, then succeed").

Endpoint names, a call's action and its prompt are the dialect's: the engine reads them
off a call through the dialect (`ScenarioRequest.action`, `.text`) and checks a rule's
``endpoint`` against the dialect's endpoints (``Scenarios(endpoints=...)``). The rule
language itself (``prompt_contains`` included) is the fake's own.

Rules are plain data, the same in Python, over the control API and in the config file:

    {"name": "moderated", "match": {"prompt_contains": "volcano"}, "then": {"reject": "forbidden"}}
    {"match": {"scenario": "flaky"}, "then": [{"reject": "api_error"}, {"succeed": true}]}
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import codes
from .faults import KINDS as FAULT_KINDS
from .faults import Fault

SCENARIO_HEADER = "X-Luma-Mock-Scenario"


@dataclass(frozen=True)
class Outcome:
    """What happens to a matched request.

    - ``succeed``: as the fake would anyway (useful in sequences);
    - ``delay``: the task takes ``work`` seconds (and ``queue`` seconds pending);
    - ``fail``: the task is created and fails with ``code`` when it ends;
    - ``reject``: answered at once with ``code`` (no task), with ``Retry-After`` for 429;
    - ``fault``: handled, but the answer is lost or damaged on its way back.
    """

    kind: str
    code: str | None = None
    message: str | None = None
    work: float | None = None
    queue: float | None = None
    retry_after: float | None = None
    fault: Fault | None = None

    @classmethod
    def parse(cls, spec: Mapping[str, Any]) -> Outcome:
        if not isinstance(spec, Mapping):
            raise ValueError(f"an outcome is an object, not {spec!r}")
        kinds = [k for k in ("succeed", "delay", "fail", "reject", "fault") if k in spec]
        if len(kinds) != 1:
            raise ValueError("an outcome names exactly one of succeed, delay, fail, reject, fault")
        kind = kinds[0]
        work = _seconds(spec, "delay") if kind == "delay" else _seconds(spec, "after")
        queue = _seconds(spec, "queue")
        if kind in ("fail", "reject"):
            code = spec[kind]
            if not isinstance(code, str) or code not in codes():
                raise ValueError(f"{code!r} is not a documented error code")
            retry_after = _seconds(spec, "retry_after")
            if retry_after is None and code == "too_many_requests":
                retry_after = 1.0
            message = spec.get("message")
            return cls(kind, code, message, work, queue, retry_after)
        if kind == "fault":
            fault_kind = spec["fault"]
            if not isinstance(fault_kind, str) or fault_kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault {fault_kind!r}; known: {', '.join(FAULT_KINDS)}")
            seconds = _seconds(spec, "seconds")
            fault = Fault(fault_kind) if seconds is None else Fault(fault_kind, seconds)
            return cls(kind, fault=fault)
        return cls(kind, work=work, queue=queue)

    def as_dict(self) -> dict[str, Any]:
        if self.kind in ("fail", "reject"):
            spec: dict[str, Any] = {self.kind: self.code}
            if self.message:
                spec["message"] = self.message
            if self.retry_after is not None:
                spec["retry_after"] = self.retry_after
            if self.work is not None:
                spec["after"] = self.work
        elif self.kind == "fault":
            assert self.fault is not None
            spec = {"fault": self.fault.kind, "seconds": self.fault.seconds}
        elif self.kind == "delay":
            spec = {"delay": self.work}
        else:
            spec = {"succeed": True}
        if self.queue is not None:
            spec["queue"] = self.queue
        return spec


def _seconds(spec: Mapping[str, Any], key: str) -> float | None:
    if key not in spec or spec[key] is None:
        return None
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{key} must be a number of seconds >= 0, not {value!r}")
    return float(value)


MATCH_KEYS = ("endpoint", "action", "fields", "prompt_contains", "scenario", "token")


@dataclass(frozen=True)
class Match:
    endpoint: str | None = None  # one of the dialect's endpoints
    action: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    prompt_contains: str | None = None
    scenario: str | None = None  # the X-Luma-Mock-Scenario header's value
    token: str | None = None

    @classmethod
    def parse(
        cls, spec: Mapping[str, Any] | None, endpoints: Collection[str] | None = None
    ) -> Match:
        """A rule's ``match``; ``endpoints``, when given, are the only endpoint names
        it may name."""
        if spec is not None and not isinstance(spec, Mapping):
            raise ValueError(f"match is an object, not {spec!r}")
        spec = dict(spec or {})
        unknown = set(spec) - set(MATCH_KEYS)
        if unknown:
            raise ValueError(f"unknown match key(s): {', '.join(sorted(unknown))}")
        for key in ("endpoint", "action", "prompt_contains", "scenario", "token"):
            if spec.get(key) is not None and not isinstance(spec[key], str):
                raise ValueError(f"match.{key} is a string, not {spec[key]!r}")
        if endpoints is not None and spec.get("endpoint") not in (None, *endpoints):
            raise ValueError(f"endpoint is {' or '.join(endpoints)}")
        if not isinstance(spec.get("fields", {}), Mapping):
            raise ValueError("fields is an object of body fields and values")
        return cls(**spec)

    def matches(self, request: ScenarioRequest) -> bool:
        body = request.body if isinstance(request.body, Mapping) else {}
        text = request.text
        return (
            (self.endpoint is None or self.endpoint == request.endpoint)
            and (self.action is None or self.action == request.action)
            and all(body.get(k) == v for k, v in self.fields.items())
            and (
                self.prompt_contains is None
                or (isinstance(text, str) and self.prompt_contains in text)
            )
            and (self.scenario is None or self.scenario == request.scenario)
            and (self.token is None or self.token == request.token)
        )

    def as_dict(self) -> dict[str, Any]:
        spec = {k: getattr(self, k) for k in MATCH_KEYS if getattr(self, k) not in (None, {})}
        if "fields" in spec:
            spec["fields"] = dict(spec["fields"])
        return spec


@dataclass(frozen=True)
class ScenarioRequest:
    """A call as the rules see it: ``action`` and ``text`` (its prompt) are what the
    dialect reads off its body (`Dialect.describe`)."""

    endpoint: str
    body: Any
    token: str
    scenario: str | None = None
    action: str | None = None
    text: str | None = None


@dataclass
class Rule:
    id: int
    name: str
    match: Match
    outcomes: tuple[Outcome, ...]
    times: int | None  # matches left; None: no limit
    matched: int = 0

    @property
    def spent(self) -> bool:
        return self.times is not None and self.matched >= self.times

    def take(self) -> Outcome:
        outcome = self.outcomes[min(self.matched, len(self.outcomes) - 1)]
        self.matched += 1
        return outcome

    def as_dict(self) -> dict[str, Any]:
        then: Any = [o.as_dict() for o in self.outcomes]
        return {
            "id": self.id,
            "name": self.name,
            "match": self.match.as_dict(),
            "then": then[0] if len(then) == 1 else then,
            "times": self.times,
            "matched": self.matched,
            "spent": self.spent,
        }


class Scenarios:
    """The live rules of one fake, in the order they were added. With ``endpoints``
    (the dialect's endpoint names), a rule naming another endpoint is refused."""

    def __init__(self, endpoints: Collection[str] | None = None) -> None:
        self.endpoints = tuple(endpoints) if endpoints is not None else None
        self._rules: list[Rule] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.on_change: Callable[[], None] | None = None  # told of every add, removal, clear

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def add(self, spec: Mapping[str, Any]) -> Rule:
        """Add a rule from its plain-data form; raises ValueError saying what is wrong."""
        if not isinstance(spec, Mapping):
            raise ValueError("a rule is an object with match and then")
        unknown = set(spec) - {"name", "match", "then", "times"}
        if unknown:
            raise ValueError(f"unknown rule key(s): {', '.join(sorted(unknown))}")
        if "then" not in spec:
            raise ValueError("a rule needs then: an outcome or a list of outcomes")
        then = spec["then"]
        steps = then if isinstance(then, list) else [then]
        if not steps:
            raise ValueError("then needs at least one outcome")
        outcomes = tuple(Outcome.parse(step) for step in steps)
        times = spec.get("times", len(outcomes) if isinstance(then, list) else None)
        if times is not None and (isinstance(times, bool) or not isinstance(times, int)):
            raise ValueError("times is a whole number of matches")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            rule_id = next(self._ids)
            rule = Rule(
                rule_id,
                str(spec.get("name", f"rule-{rule_id}")),
                Match.parse(spec.get("match"), self.endpoints),
                outcomes,
                times,
            )
            self._rules.append(rule)
        self._changed()
        return rule

    def __bool__(self) -> bool:
        """Whether there are rules at all (read without the lock: a rule added while a
        request is being decided may or may not apply to it either way)."""
        return bool(self._rules)

    def decide(self, request: ScenarioRequest) -> tuple[Rule, Outcome] | None:
        """The outcome for ``request`` from the first live matching rule, if any."""
        with self._lock:
            for rule in self._rules:
                if not rule.spent and rule.match.matches(request):
                    return rule, rule.take()
        return None

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            removed = len(self._rules) < before
        if removed:
            self._changed()
        return removed

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
        self._changed()

    def list(self) -> list[Rule]:
        with self._lock:
            return list(self._rules)
