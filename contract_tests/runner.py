"""The provider suite's runner: a `Provider` sends cases to one `Target`, runs every
check on every answer, keeps the billable `Budget`, and knows how to bring a task to its
end on that target — the control API's clock or complete endpoint where there is one,
polling with backoff elsewhere — and how to wait for its callback.

Billable requests (POSTs to /luma/videos that pass validation) are counted before they
are sent and never beyond the cap (`BudgetSpent` stops the example instead). On a target
with the control API (``GET /__admin/clock`` answers) time is moved instead of waited
for: async tasks are settled by ``/__admin/clock/advance`` (manual clock) or
``/__admin/tasks/<id>/complete`` (real clock), and synchronous calls carry a scenario
header that makes them instant. The phases (`plans`) and the state machine (`stateful`)
drive a `Provider`; this module is what they share.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from . import strategies as S
from .check_context import CheckContext, record_state
from .checks import run_checks as _run_checks
from .exchanges import Answer, Case, CheckFailure
from .report import Progress, Recorder
from .targets import Target

INSTANT = "luma-mock-verify-instant"  # scenario that makes a sync call answer at once
SCENARIO_HEADER = "X-Luma-Mock-Scenario"
POLL_DEADLINE = 600.0  # seconds a task may take on a target without the control API
POLL_FIRST, POLL_MAX = 0.25, 15.0  # backoff between polls: a quick task is seen quickly
FAKE_TIME_LIMIT = 3600.0  # seconds of a manual clock we move before completing by hand


@dataclass
class Budget:
    """The cap on billable requests, counted before each is sent."""

    cap: int
    spent: int = 0

    def take(self) -> bool:
        if self.spent >= self.cap:
            return False
        self.spent += 1
        return True

    @property
    def left(self) -> int:
        return self.cap - self.spent


class BudgetSpent(Exception):
    """A billable request was not sent: the cap is reached."""


class Provider:
    """Sends cases to one target, runs the checks on every answer, keeps the budget,
    and knows how to move a task to its end on this target."""

    def __init__(
        self,
        target: Target,
        budget: Budget,
        recorder: Recorder | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.target = target
        self.budget = budget
        self.recorder = recorder or Recorder()
        self.progress = progress or Progress(None, budget)
        self.ctx = CheckContext(fetch=self.fetch, any_token=target.any_token)
        self.failures: list[CheckFailure] = []
        self.current: list[CheckFailure] = []  # failures of the example in progress
        self.phase = "setup"
        self.control: dict[str, Any] | None = None
        self.instant_rule: int | None = None
        self.videos: list[tuple[str, str]] = []  # (video_id, video_url) made in this run
        self.notes: list[str] = []
        self.risky_skipped = 0  # invalid requests not sent: they could be billed
        self._receiver: Any = None
        self._callback_seq = itertools.count(1)

    # -- sending --------------------------------------------------------------------

    def headers_for(self, case: Case) -> dict[str, str]:
        headers = {"accept": "application/json"}
        if case.payload() is not None:
            headers["content-type"] = "application/json"
        auth = {
            "valid": f"Bearer {self.target.token}",
            "wrong": "Bearer wrong-token-for-luma-mock-verify",
            "malformed": "Basic bHVtYTptb2Nr",
        }.get(case.auth)
        if auth is not None:
            headers["authorization"] = auth
        headers.update(case.headers)
        return headers

    def is_billable(self, case: Case) -> bool:
        """A POST to /luma/videos with a valid token that passes validation."""
        return case.operation == "videos" and case.auth == "valid" and case.valid

    def is_risky(self, case: Case) -> bool:
        """An invalid /luma/videos body with a usable prompt, for a target without the
        control API (maybe the real service): a lenient server could accept and bill it."""
        body = case.body if isinstance(case.body, dict) else {}
        usable = S.is_valid_field("videos", "prompt", body.get("prompt"))
        return self.control is None and case.operation == "videos" and not case.valid and usable

    def send(self, case: Case, timeout: float = 30.0) -> Answer:
        if self.is_billable(case) and not self.budget.take():
            raise BudgetSpent(case.label)
        headers = self.headers_for(case)
        answer = self.target.transport.send(
            case.method, case.path, case.payload(), headers, timeout
        )
        self.recorder.add(self.phase, case, case.path, headers, answer)
        return answer

    def exchange(self, case: Case, timeout: float = 30.0) -> Answer:
        """Send the case and run every check on its answer; failures are kept for the
        example in progress."""
        answer = self.send(case, timeout)
        self.current.extend(_run_checks(self.ctx, case, answer))
        return answer

    def fetch(self, url: str) -> Answer:
        answer = self.target.transport.send("GET", url, None, {}, 60.0)
        self.recorder.add(self.phase, Case("media", method="GET", path=url), url, {}, answer)
        return answer

    def admin(self, method: str, path: str, body: Any = None) -> Answer:
        headers = {"content-type": "application/json"}
        if self.target.control_token:
            headers["authorization"] = f"Bearer {self.target.control_token}"
        payload = None if body is None else json.dumps(body).encode()
        return self.target.transport.send(method, "/__admin" + path, payload, headers, 60.0)

    # -- the control API, when there is one ---------------------------------------------

    def probe_control(self) -> None:
        answer = self.admin("GET", "/clock")
        body = answer.json_or_none() if answer.status == 200 else None
        if not isinstance(body, dict) or "manual" not in body:
            self.notes.append("no control API: tasks are polled, sync calls take real time")
            return
        self.control = body
        rule = {"name": INSTANT, "match": {"scenario": INSTANT}, "then": {"succeed": True}}
        rule["then"].update({"after": 0, "queue": 0})
        made = self.admin("POST", "/scenarios", rule).json_or_none()
        if isinstance(made, dict) and isinstance(made.get("id"), int):
            self.instant_rule = made["id"]

    def cleanup(self) -> None:
        if self.instant_rule is not None:
            self.admin("DELETE", f"/scenarios/{self.instant_rule}")
        if self._receiver is not None:
            self._receiver.close()

    @property
    def manual_clock(self) -> bool:
        return bool(self.control and self.control.get("manual"))

    def advance(self, seconds: float) -> None:
        self.admin("POST", "/clock/advance", {"seconds": seconds})

    # -- tasks --------------------------------------------------------------------

    def retrieve(self, task_id: str) -> dict[str, Any] | None:
        case = Case("tasks", {"action": "retrieve", "id": task_id}, label="retrieve",
                    expect_status=200, task_id=task_id)  # fmt: skip
        body = self.exchange(case).json_or_none()
        return body if isinstance(body, dict) else None

    def retrieve_batch(self, ids: list[str]) -> None:
        self.exchange(Case("tasks", {"action": "retrieve_batch", "ids": ids}, label="batch"))

    def settle(self, task_id: str) -> dict[str, Any] | None:
        """Bring the task to its end the cheapest way this target allows, retrieving it
        on the way so every state it passes through is checked."""
        record = self.retrieve(task_id)
        if self.manual_clock:
            step, moved = 1.0, 0.0
            while record is not None and not _finished(record) and moved < FAKE_TIME_LIMIT:
                self.advance(step)
                moved, step = moved + step, step * 2
                record = self.retrieve(task_id)
        if self.control is not None and record is not None and not _finished(record):
            self.admin("POST", f"/tasks/{task_id}/complete")
            record = self.retrieve(task_id)
        deadline, pause = time.monotonic() + POLL_DEADLINE, POLL_FIRST
        while record is not None and not _finished(record) and time.monotonic() < deadline:
            time.sleep(pause)  # the real service: nothing to wait on but the clock
            pause = min(pause * 2, POLL_MAX)
            record = self.retrieve(task_id)
        return record

    def remember_video(self, result: Any) -> None:
        if isinstance(result, dict) and result.get("success") is True:
            video = (result.get("video_id"), result.get("video_url"))
            if all(isinstance(v, str) for v in video) and video not in self.videos:
                self.videos.append(video)  # type: ignore[arg-type]

    # -- callbacks ---------------------------------------------------------------------

    @property
    def receiver(self) -> Any:
        if self._receiver is None:
            from mock_server.receiver import CallbackReceiver

            self._receiver = CallbackReceiver()
        return self._receiver

    def unique_callback(self, body: dict[str, Any]) -> dict[str, Any]:
        """Give the callback URL a serial, so its callback is found by path alone (a
        server that sends another shape may leave out the task id)."""
        url = body["callback_url"]
        joiner = "&" if "?" in url else "?"
        return {**body, "callback_url": f"{url}{joiner}n={next(self._callback_seq)}"}

    def callback_for(self, url: str, timeout: float = 10.0) -> Any:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        receiver, seen, deadline = self.receiver, 0, time.monotonic() + timeout
        while True:
            received = list(receiver.received)
            for item in received[seen:]:
                if item.path == path:
                    return item
            seen = len(received)
            with contextlib.suppress(TimeoutError):
                receiver.wait_count(seen + 1, max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline and len(receiver.received) == seen:
                return None

    def check_callback(self, case: Case, task_id: str) -> None:
        received = self.callback_for(case.body["callback_url"])
        if received is None:
            self.current.append(
                CheckFailure(
                    f"no callback for task {task_id} arrived",
                    expected=f"a POST to {case.body['callback_url']}",
                    actual="nothing within 10 s of the task's end",
                    check="callback-shape",
                    case=case,
                )
            )
            return
        body = received.body
        content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        kind = received.headers.get("Content-Type") or received.headers.get("content-type", "")
        answer = Answer(200, {"content-type": kind}, content)
        callback = Case("callback", case.body, label=case.label, task_id=task_id)
        self.current.extend(_run_checks(self.ctx, callback, answer))

    # -- one billable example -----------------------------------------------------------

    def video(self, body: dict[str, Any], label: str) -> None:
        """One POST /luma/videos and everything that follows from it: settle the task,
        its callback, retrieve it alone and in a batch, remember the video."""
        if "callback_url" in body:
            body = self.unique_callback(body)
        case = Case("videos", body, label=label)
        timeout = 30.0
        if case.mode == "sync":
            if self.instant_rule is not None:
                case.headers[SCENARIO_HEADER] = INSTANT
            else:
                timeout = float(body.get("timeout", 300)) + 30
        answer = self.exchange(case, timeout)
        data = answer.json_or_none()
        task_id = data.get("task_id") if isinstance(data, dict) else None
        if answer.status != 200 or not isinstance(task_id, str):
            return
        case.task_id = task_id
        if case.mode == "sync":
            self.remember_video(data)
            record = self.retrieve(task_id)
        else:
            record = self.settle(task_id)
            if case.mode == "callback":
                self.check_callback(case, task_id)
            record = self.retrieve(task_id) or record
        self.retrieve_batch([task_id, f"unknown-{task_id}"])
        if record is not None:
            self.remember_video(record.get("response"))


def _finished(record: Mapping[str, Any]) -> bool:
    return record_state(record) in ("completed", "failed")
