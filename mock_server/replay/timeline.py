"""A task's life as the recording saw it: when its create was answered, what each poll
answered and when, which callbacks came — all as offsets since the create's answer, so
a replay can play them again from its own create's answer, on its own clock.

The timeline rule: a poll asked ``e`` recorded seconds after the replayed create was
answered gets the recorded poll (of the same request) with the greatest offset ≤ ``e``:
never a later state early, never stuck on the first answer; before the first recorded
poll's offset, the first one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FINISHED = ("completed", "failed")
STARTED = ("processing", *FINISHED)
# Float noise of clock arithmetic must not make a poll recorded at exactly e look later.
EPSILON = 1e-9

Event = Mapping[str, Any]


def answered_at(exchange: Event) -> float:
    """When the recording's client had the answer: its arrival plus its duration."""
    return float(exchange.get("at") or 0.0) + float(exchange.get("duration") or 0.0)


def pick(polls: Sequence[Event], elapsed: float, anchor: float) -> Event:
    """The timeline rule over ``polls`` (recorded, in order): the one with the greatest
    offset since ``anchor`` that is ≤ ``elapsed``, else the first."""
    chosen = polls[0]
    for poll in polls:
        if float(poll.get("at") or 0.0) - anchor <= elapsed + EPSILON:
            chosen = poll
    return chosen


@dataclass
class TaskRecording:
    """One task of the cassette: its create (if recorded), polls and callbacks."""

    task_id: str
    dialect: str
    create: Event | None = None
    polls: list[Event] = field(default_factory=list)
    # Each distinct callback body, at its first attempt (the provider's retries of the
    # same body are the provider's business; the replay's dispatcher retries its own).
    callbacks: list[tuple[float, Any]] = field(default_factory=list)
    # The states the callbacks showed (a client that waits on callbacks polls nothing):
    # (recorded at, state), from the callback lines that keep one.
    reported: list[tuple[float, str]] = field(default_factory=list)

    @property
    def anchor(self) -> float:
        """Recorded seconds at which the create was answered (0: the recording's start,
        for a task whose create is not in the cassette)."""
        return answered_at(self.create) if self.create is not None else 0.0

    def offset(self, at: float) -> float:
        return max(0.0, at - self.anchor)

    def _states(self) -> list[tuple[float, str]]:
        shown = [self.create] if self.create is not None else []
        shown += self.polls
        states = [
            (self.offset(float(e.get("at") or 0.0)), str(e.get("state")))
            for e in shown
            if e.get("state")
        ]
        return states + [(self.offset(at), state) for at, state in self.reported]

    def started(self) -> float:
        """Offset at which the recording first showed the task running (or done)."""
        return min((o for o, s in self._states() if s in STARTED), default=self.ended()[0])

    def ended(self) -> tuple[float, bool]:
        """Offset at which the recording first showed the task finished (an answer or a
        callback that keeps its state), and whether it failed; a task only a callback
        without a state told the end of ends at its last callback; one never seen to
        end, never."""
        for offset, state in sorted(self._states()):
            if state in FINISHED:
                return offset, state == "failed"
        if self.callbacks:
            return self.offset(self.callbacks[-1][0]), False
        return math.inf, False

    def shown(self, elapsed: float) -> Any:
        """What the recording answered of the task ``elapsed`` recorded seconds after its
        create (the latest poll by then, else the create's answer): the task's view on
        the dashboard and the control API."""
        chosen = pick(self.polls, elapsed, self.anchor) if self.polls else None
        if chosen is None or float(chosen.get("at") or 0.0) - self.anchor > elapsed + EPSILON:
            chosen = self.create or chosen
        body = ((chosen or {}).get("response") or {}).get("body") or {}
        return body.get("json") if "json" in body else None


def task_recordings(events: Sequence[Event]) -> dict[str, TaskRecording]:
    """Every task the cassette's exchanges and callbacks name, by id."""
    tasks: dict[str, TaskRecording] = {}

    def of(event: Event) -> TaskRecording:
        task_id = str(event["task"])
        found = tasks.get(task_id)
        if found is None:
            found = tasks[task_id] = TaskRecording(task_id, str(event.get("dialect") or ""))
        return found

    for event in events:
        if not event.get("task") or event.get("own"):
            continue
        kind, role = event.get("type"), event.get("role")
        if kind == "exchange" and role == "create":
            recording = of(event)
            if recording.create is None:
                recording.create = event
        elif kind == "exchange" and role == "poll":
            of(event).polls.append(event)
        elif kind == "callback":
            if isinstance(event.get("state"), str):
                of(event).reported.append((float(event.get("at") or 0.0), event["state"]))
            body = (event.get("request") or {}).get("body") or {}
            if "json" not in body:
                continue  # a callback body is JSON in every dialect; another is not replayed
            recording = of(event)
            if all(seen != body["json"] for _, seen in recording.callbacks):
                recording.callbacks.append((float(event.get("at") or 0.0), body["json"]))
    for recording in tasks.values():
        recording.polls.sort(key=lambda e: (float(e.get("at") or 0.0), e.get("seq", 0)))
        recording.callbacks.sort(key=lambda c: c[0])
    return tasks
