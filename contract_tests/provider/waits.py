"""How the provider suite waits for a task to end, and how long it may.

Every poll is an exchange like any other: it goes through every check as it comes, and
an answer that breaks one ends that task's wait at once (its failure says why; a target
whose records break the schema is never polled on in hope). While the answers hold, the
wait is bounded by what the target can do:

- with the control API: the manual clock is moved by 1, 2, 4 … s, up to
  `FAKE_TIME_LIMIT` of its time (twelve moves), then the task is finished through
  ``/__admin/tasks/<id>/complete`` and waited for on the target
  (``/__admin/tasks/<id>/wait``, at most `TASK_WAIT` real seconds) — nothing sleeps;
- without it (the real service): polled with backoff, `POLL_FIRST` doubling to
  `POLL_MAX` seconds, for up to `POLL_DEADLINE`.

A task that has not ended then fails ``task-finishes``, and the target is not waited on
again: later tasks of the run are retrieved once each, so a run waits out at most one
bound. The check sits in the shared registry under its own operation, ``wait``, for
every dialect: its case is the wait (`TaskWait`), its answer the last record seen, read
by the case's dialect (`checks.state_of`, `checks.ended`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..checks import (
    WAIT,
    Answer,
    Case,
    CheckContext,
    CheckFailure,
    check,
    ended,
    fail,
    run_checks,
    state_of,
)

POLL_DEADLINE = 600.0  # seconds a task may take on a target without the control API
POLL_FIRST, POLL_MAX = 0.25, 15.0  # backoff between polls: a quick task is seen quickly
FAKE_TIME_LIMIT = 3600.0  # seconds of a manual clock we move before completing by hand
TASK_WAIT = 5.0  # real seconds the control API may take to end a task after /complete


class Provider(Protocol):
    """What a wait uses of the runner's `Provider` (which calls `settle`), named here so
    that this module never imports the runner that imports it."""

    ctx: CheckContext
    current: list[CheckFailure]
    control: dict[str, Any] | None
    notes: list[str]
    overran: str | None

    @property
    def manual_clock(self) -> bool: ...

    def exchange(self, case: Case, timeout: float = ...) -> Answer: ...

    def advance(self, seconds: float) -> bool: ...

    def admin(self, method: str, path: str, body: Any = None, timeout: float = ...) -> Answer: ...


@dataclass
class TaskWait(Case):
    """The end of one wait for a task: how the suite waited, and its bound."""

    waited: str = ""  # what was done: "moved the clock 4095 s, then /complete"
    bound: str = ""  # what the target was given: "/__admin/tasks/<id>/complete and 5 s"


@check(
    "task-finishes",
    "a task ends (completed or failed) within its wait: at once through the control API, "
    "in 10 minutes elsewhere",
    on=(WAIT,),
)
def task_finishes(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    record = answer.json_or_none()
    state = state_of(case.dialect, record) if isinstance(record, dict) else "never retrieved"
    if ended(case.dialect, state):
        return None
    waited = case.waited if isinstance(case, TaskWait) else ""
    bound = case.bound if isinstance(case, TaskWait) else "its wait"
    fail(
        f"task {case.task_id} did not end: still {state} after {waited}",
        expected=f"completed or failed within {bound}",
        actual=f"{state}: {answer.text[:200]}" if answer.status else state,
    )


class _Polls:
    """The polls of one task: the last record seen, and whether the wait goes on."""

    def __init__(self, provider: Provider, task_id: str, ask: Callable[[str], Case]) -> None:
        self.provider, self.task_id, self.ask = provider, task_id, ask
        self.dialect = ask(task_id).dialect
        self.last = Answer(0)  # the last 200 answer with a record
        self.record: dict[str, Any] | None = None
        self.broken = False
        self.count = 0

    def poll(self) -> bool:
        """Retrieve the task, every check run on the answer; True while the wait goes
        on (the task has not ended and the answer broke no check)."""
        failures = len(self.provider.current)
        answer = self.provider.exchange(self.ask(self.task_id))
        self.count += 1
        self.broken = len(self.provider.current) > failures
        body = answer.json_or_none()
        if answer.status == 200 and isinstance(body, dict):
            self.last, self.record = answer, body
        return not self.broken and not self.ended

    @property
    def ended(self) -> bool:
        return self.record is not None and ended(self.dialect, state_of(self.dialect, self.record))


def settle(provider: Provider, task_id: str, ask: Callable[[str], Case]) -> dict[str, Any] | None:
    """Bring the task to its end the cheapest way the target allows, checking every
    poll. The task's record once it has ended; None when it did not end — an answer
    broke a check (that failure says why) or the bound was reached (``task-finishes``).
    ``ask``: the case that reads the task (the dialect's `read_case`)."""
    polls = _Polls(provider, task_id, ask)
    going = polls.poll()
    if going and provider.overran is not None:
        return None  # the target let an earlier task overrun: it is not waited on again
    waited: list[str] = []
    if going and provider.manual_clock:
        step, moved = 1.0, 0.0
        while going and moved < FAKE_TIME_LIMIT and provider.advance(step):
            moved, step = moved + step, step * 2
            going = polls.poll()
        waited.append(f"moving the target's clock {moved:g} s")
    if going and provider.control is not None:
        done = provider.admin("POST", f"/tasks/{task_id}/complete")
        body = {"state": "finished", "timeout": TASK_WAIT}
        provider.admin("POST", f"/tasks/{task_id}/wait", body, TASK_WAIT + 5)  # +5: its answer
        going = polls.poll()
        waited.append(f"/__admin/tasks/{task_id}/complete (HTTP {done.status}) and a wait")
        bound = f"/__admin/tasks/<id>/complete and {TASK_WAIT:g} s"
    elif going:
        deadline, pause = time.monotonic() + POLL_DEADLINE, POLL_FIRST
        while going and time.monotonic() < deadline:
            time.sleep(pause)  # the real service: nothing to wait on but the clock
            pause = min(pause * 2, POLL_MAX)
            going = polls.poll()
        waited.append(f"{polls.count} polls over {POLL_DEADLINE / 60:g} minutes")
        bound = f"{POLL_DEADLINE / 60:g} minutes of polling"
    if going:  # every answer held, and still the task did not end
        _overran(provider, task_id, polls, ", then ".join(waited), bound)
    return polls.record if polls.ended else None


def _overran(provider: Provider, task_id: str, polls: _Polls, waited: str, bound: str) -> None:
    provider.overran = task_id
    provider.notes.append(
        f"task {task_id} did not end within its wait; later tasks were retrieved once each, "
        "not waited for"
    )
    asked = polls.ask(task_id)
    case = TaskWait(WAIT, asked.body, path=asked.path, label="task wait", task_id=task_id,
                    dialect=asked.dialect, waited=waited, bound=bound)  # fmt: skip
    provider.current.extend(run_checks(provider.ctx, case, polls.last))
