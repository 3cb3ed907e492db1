"""The provider suite's runner: a `Provider` sends cases to one `Target`, runs every
check on every answer, keeps the billable `Budget`, and knows how to bring a task to its
end on that target (`waits`: the control API's clock or complete endpoint where there is
one, polling with backoff elsewhere, every poll checked) and how to wait for its callback.

No request waits for its answer longer than `ANSWER_TIMEOUT` (unless its dialect gives
one that holds until its result longer: AceData's synchronous call on a target without
the control API waits its body's ``timeout`` plus 30 s), a control call longer than
`ADMIN_TIMEOUT`; and once the target has left `SILENCE_LIMIT` seconds in all
unanswered, nothing more is sent — every request left fails at once, so a target that
stops answering still gets a verdict.

Billable requests (a valid call, with the target's token, to one of the dialect's
billable paths: `Pack.billable`) are counted before they are sent and never beyond the
cap (`BudgetSpent` stops the example instead). On a target
with the control API (``GET /__admin/clock`` answers) time is moved instead of waited
for: async tasks are settled by ``/__admin/clock/advance`` (manual clock) or
``/__admin/tasks/<id>/complete`` (real clock), and synchronous calls carry a scenario
header that makes them instant. The phases (`plans`) and the state machine (`stateful`)
drive a `Provider`; this module is what they share. What differs between dialects is
the dialect's ``provider`` module's (`dialect.ProviderDialect`), kept as `Provider.api`,
and its memory for the run, `Provider.memory`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from ..checks import CALLBACK, Answer, Case, CheckContext, CheckFailure
from ..checks import run_checks as _run_checks
from ..contract.packs import default_pack, pack
from .dialect import provider_of
from .outcome import Budget, BudgetSpent
from .progress import Progress, Recorder
from .targets import Target
from .waits import FAKE_TIME_LIMIT, POLL_DEADLINE, POLL_FIRST, POLL_MAX, settle

INSTANT = "luma-mock-verify-instant"  # scenario that makes a sync call answer at once
SCENARIO_HEADER = "X-Luma-Mock-Scenario"
ANSWER_TIMEOUT = 30.0  # seconds a request waits for its answer
ADMIN_TIMEOUT = 10.0  # the same for a control call (they answer at once)
MEDIA_TIMEOUT = 60.0  # the same for a video or thumbnail
SILENCE_LIMIT = 90.0  # seconds of unanswered requests, in all, before nothing more is sent
CALLBACK_WAIT = 10.0  # seconds a callback may take once its task has ended

__all__ = [
    "ADMIN_TIMEOUT",
    "ANSWER_TIMEOUT",
    "CALLBACK_WAIT",
    "FAKE_TIME_LIMIT",
    "INSTANT",
    "MEDIA_TIMEOUT",
    "POLL_DEADLINE",
    "POLL_FIRST",
    "POLL_MAX",
    "SCENARIO_HEADER",
    "SILENCE_LIMIT",
    "Budget",
    "BudgetSpent",
    "Provider",
]


class Provider:
    """Sends cases to one target, runs the checks on every answer, keeps the budget,
    and knows how to move a task to its end on this target."""

    def __init__(
        self,
        target: Target,
        budget: Budget,
        recorder: Recorder | None = None,
        progress: Progress | None = None,
        dialect: str | None = None,
    ) -> None:
        self.dialect = dialect or default_pack().name
        self.pack = pack(self.dialect)
        self.api = provider_of(self.dialect)
        self.memory: Any = None  # the dialect's, for the run (its `prepare` sets it)
        self.x402: Any = None  # with verify --x402: what it may pay (`gateway.Gateway`)
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
        self.notes: list[str] = []
        self.risky_skipped: Counter[str] = Counter()  # invalid calls not sent, by route
        self.overran: str | None = None  # a task that did not end within its wait
        self.silence = 0.0  # seconds the target left requests unanswered, in all
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
        """A valid call with the target's token to one of the dialect's billable paths
        (`Pack.billable`); one that must be a 404 (an unknown id) makes nothing."""
        if case.auth != "valid" or not case.valid or case.expect_status == 404:
            return False
        return self.pack.is_billable(case.method, case.path)

    def is_risky(self, case: Case) -> bool:
        """An invalid call to a billable path that a lenient server could still accept
        and bill (the dialect's `could_bill`), for a target without the control API:
        it may be the real service."""
        if self.control is not None or case.valid or case.auth != "valid":
            return False
        return self.pack.is_billable(case.method, case.path) and self.api.could_bill(case)

    def skip_risky(self, case: Case) -> bool:
        """Whether ``case`` is risky (`is_risky`): then it is counted, and not sent."""
        if not self.is_risky(case):
            return False
        self.risky_skipped[f"{case.method} {self.pack.route(case.path.split('?')[0])}"] += 1
        return True

    def transmit(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: float,
    ) -> Answer:
        """Every request to the target goes here: past `SILENCE_LIMIT` seconds of
        unanswered requests it is not sent, and answers at once with status 0."""
        if self.silence >= SILENCE_LIMIT:
            why = f"not sent: the target left {self.silence:.0f} s of requests unanswered"
            return Answer(0, {}, why.encode())
        answer = self.target.transport.send(method, url, body, headers, timeout)
        if answer.status == 0:
            self.silence += answer.elapsed
            if self.silence >= SILENCE_LIMIT:
                self.notes.append(
                    f"the target left {self.silence:.0f} s of requests unanswered: "
                    "nothing more was sent, and every request left failed at once"
                )
        return answer

    def send(self, case: Case, timeout: float = ANSWER_TIMEOUT) -> Answer:
        if self.is_billable(case) and not self.budget.take():
            raise BudgetSpent(case.label)
        headers = self.headers_for(case)
        answer = self.transmit(case.method, case.path, case.payload(), headers, timeout)
        self.recorder.add(self.phase, case, case.path, headers, answer)
        return answer

    def exchange(self, case: Case, timeout: float = ANSWER_TIMEOUT) -> Answer:
        """Send the case and run every check on its answer; failures are kept for the
        example in progress."""
        answer = self.send(case, timeout)
        self.current.extend(_run_checks(self.ctx, case, answer))
        return answer

    def fetch(self, url: str) -> Answer:
        answer = self.transmit("GET", url, None, {}, MEDIA_TIMEOUT)
        media = Case("media", method="GET", path=url, dialect=self.dialect)
        self.recorder.add(self.phase, media, url, {}, answer)
        return answer

    def admin(
        self, method: str, path: str, body: Any = None, timeout: float = ADMIN_TIMEOUT
    ) -> Answer:
        headers = {"content-type": "application/json"}
        if self.target.control_token:
            headers["authorization"] = f"Bearer {self.target.control_token}"
        payload = None if body is None else json.dumps(body).encode()
        return self.transmit(method, "/__admin" + path, payload, headers, timeout)

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

    def advance(self, seconds: float) -> bool:
        """Move the target's manual clock; False when the control API refused."""
        return 200 <= self.admin("POST", "/clock/advance", {"seconds": seconds}).status < 300

    # -- tasks --------------------------------------------------------------------

    def settle(self, task_id: str) -> dict[str, Any] | None:
        """The task's record once it has ended, every poll on the way checked (the
        dialect's `read_case`); None when it did not end (an answer broke a check, or
        its wait ran out: `waits`)."""
        return settle(self, task_id, self.api.read_case)

    # -- callbacks ---------------------------------------------------------------------

    @property
    def receiver(self) -> Any:
        if self._receiver is None:
            from mock_server.harness.receiver import CallbackReceiver

            self._receiver = CallbackReceiver()
        return self._receiver

    def unique_callback(self, body: dict[str, Any]) -> dict[str, Any]:
        """Give the callback URL a serial, so its callback is found by path alone (a
        server that sends another shape may leave out the task id)."""
        url = body["callback_url"]
        joiner = "&" if "?" in url else "?"
        return {**body, "callback_url": f"{url}{joiner}n={next(self._callback_seq)}"}

    def callback_for(self, url: str, timeout: float = CALLBACK_WAIT) -> Any:
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

    def check_callback(self, case: Case, check: str) -> None:
        """Once the task ``case`` made has ended, its callback is due at the body's
        ``callback_url``: every check of callbacks runs on it, or ``check`` fails when
        none arrived."""
        received = self.callback_for(case.body["callback_url"])
        if received is None:
            self.current.append(
                CheckFailure(
                    f"no callback for task {case.task_id} arrived",
                    expected=f"a POST to {case.body['callback_url']}",
                    actual=f"nothing within {CALLBACK_WAIT:g} s of the task's end",
                    check=check,
                    case=case,
                )
            )
            return
        body = received.body
        content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        kind = received.headers.get("Content-Type") or received.headers.get("content-type", "")
        answer = Answer(200, {"content-type": kind}, content)
        callback = Case(CALLBACK, case.body, path=case.path, label=case.label,
                        task_id=case.task_id, dialect=case.dialect)  # fmt: skip
        self.current.extend(_run_checks(self.ctx, callback, answer))
