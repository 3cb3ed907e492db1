"""The provider suite: drive any server that claims to be the Luma API and check every
answer against the contract.

A `Target` is a base URL and a token (the fake over a socket, someone else's server, the
real ``https://api.acedata.cloud``) or a WSGI app called in process (`Target.in_process`
builds the fake). Both sit behind `Transport`, one method wide, which the pytest plugin
can reuse. `verify` runs the phases — cheap ones first (auth, invalid and malformed
input, unknown ids), then billable ones (every request shape in every mode, then the
stateful machine) — and returns a `Verification` for `report`.

Billable requests (POSTs to /luma/videos that pass validation) are counted before they
are sent, and never beyond the cap. On a target with the control API (``GET
/__admin/clock`` answers) time is moved instead of waited for: async tasks are settled by
``/__admin/clock/advance`` (manual clock) or ``/__admin/tasks/<id>/complete`` (real
clock), and synchronous calls carry a scenario header that makes them instant. Elsewhere
the suite polls ``/luma/tasks`` with backoff up to a deadline.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from . import profiles
from . import strategies as S
from .checks import Answer, Case, CheckContext, CheckFailure, CheckFailures, record_state
from .checks import run_checks as _run_checks
from .report import Progress, Recorder

REAL_SERVICE = "https://api.acedata.cloud"
INSTANT = "luma-mock-verify-instant"  # scenario that makes a sync call answer at once
SCENARIO_HEADER = "X-Luma-Mock-Scenario"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
DEFAULT_CAP_WITH_CONTROL = 36  # the fake's videos are free: two per shape and mode
POLL_DEADLINE = 600.0  # seconds a task may take on a target without the control API
POLL_FIRST, POLL_MAX = 0.25, 15.0  # backoff between polls: a quick task is seen quickly
FAKE_TIME_LIMIT = 3600.0  # seconds of a manual clock we move before completing by hand


# -- transports --------------------------------------------------------------------------


class Transport(Protocol):
    """One method: send a request (path, or absolute URL) and return the answer. A
    failure to connect is an answer with status 0 whose content says why."""

    base_url: str

    def send(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> Answer: ...


class HttpTransport:
    """A server over the network, with `requests`."""

    def __init__(self, base_url: str) -> None:
        import requests

        self.base_url = base_url.rstrip("/")
        self._session = requests.Session()
        # On loopback a new connection costs ~1 ms, while a kept-alive one can stall 40 ms
        # per request (a server that writes headers and body apart meets delayed ACKs).
        self._request = (
            requests.request if urlsplit(base_url).hostname in LOOPBACK else self._session.request
        )

    def send(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> Answer:
        import requests

        full = url if "://" in url else self.base_url + url
        sent = dict(headers or {})
        started = time.perf_counter()
        try:
            r = self._request(method, full, data=body, headers=sent, timeout=(10, timeout))
        except requests.RequestException as bad:
            return Answer(0, {}, f"no answer: {bad}".encode(), time.perf_counter() - started)
        lowered = {k.lower(): v for k, v in r.headers.items()}
        return Answer(r.status_code, lowered, r.content, time.perf_counter() - started)

    def close(self) -> None:
        self._session.close()


class WsgiTransport:
    """A WSGI app called in process (werkzeug's test client): nothing leaves the process.
    Absolute URLs are answered only when they start with ``base_url``, the address the app
    believes it serves (the default is where ``luma-mock serve`` listens, so a report's
    curl lines work against it)."""

    def __init__(self, app: Callable[..., Any], base_url: str = "http://127.0.0.1:8000") -> None:
        from werkzeug.test import Client

        self.base_url = base_url.rstrip("/")
        self._client = Client(app)

    def send(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> Answer:
        if "://" in url and not url.startswith(self.base_url + "/"):
            return Answer(0, {}, f"no answer: {url} is outside the in-process target".encode())
        parts = urlsplit(url if "://" in url else self.base_url + url)
        started = time.perf_counter()
        r = self._client.open(
            parts.path,
            base_url=self.base_url,
            query_string=parts.query,
            method=method,
            data=body or b"",
            headers=list((headers or {}).items()),
        )
        lowered = {k.lower(): v for k, v in r.headers.items()}
        return Answer(r.status_code, lowered, r.get_data(), time.perf_counter() - started)

    def close(self) -> None:
        pass


# -- targets ---------------------------------------------------------------------------


@dataclass
class Target:
    """What is verified: a transport, the token it takes, and what it can do.

    ``any_token``: the target accepts any non-empty token by design (the fake without
    ``--token``), so a wrong token is not expected to be refused. ``callbacks``: the
    target can reach a receiver on this machine's loopback.
    """

    transport: Transport
    token: str
    name: str = ""
    control_token: str | None = None
    any_token: bool = False
    callbacks: bool = True
    on_close: Callable[[], None] | None = None
    hint: str = ""  # a line for the report, e.g. how to replay its curl lines

    @classmethod
    def url(cls, base_url: str, token: str, **options: Any) -> Target:
        host = urlsplit(base_url).hostname or ""
        options.setdefault("callbacks", host in LOOPBACK)
        return cls(HttpTransport(base_url), token, name=base_url, **options)

    @classmethod
    def wsgi(cls, app: Callable[..., Any], token: str = "verify-token", **options: Any) -> Target:
        transport = WsgiTransport(app, options.pop("base_url", "http://127.0.0.1:8000"))
        return cls(transport, token, name=options.pop("name", "WSGI app in process"), **options)

    @classmethod
    def in_process(cls, token: str = "verify-token", **settings: Any) -> Target:
        """The fake, in this process: a manual clock, 2 s queued and 60 s generating, and
        only ``token`` accepted — so states, time and auth can all be seen."""
        from mock_server.app import create_app
        from mock_server.clock import ManualClock
        from mock_server.config import Settings
        from mock_server.delays import DelayModel, Fixed
        from mock_server.service import LumaService

        values: dict[str, Any] = {
            "clock": "manual",
            "delays": DelayModel(Fixed(2.0), Fixed(60.0), Fixed(60.0)),
            "tokens": (token,),
            "seed": 1,
        }
        values.update(settings)
        luma = LumaService(Settings(**values), clock=ManualClock(1_700_000_000.0))
        target = cls.wsgi(create_app(luma), token, name="the fake, in process")
        target.on_close = luma.close
        target.hint = (
            f"curl lines replay on `luma-mock serve --clock manual --token {token}` "
            f"with LUMA_TOKEN={token}"
        )
        return target

    def close(self) -> None:
        closer = getattr(self.transport, "close", None)
        if closer is not None:
            closer()
        if self.on_close is not None:
            self.on_close()


# -- what a run keeps -----------------------------------------------------------------


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


@dataclass
class Verification:
    """The outcome of a run: the failures (one per check and case label), how often
    each check ran, billable spent of cap, and what could not be checked."""

    target: str
    failures: list[CheckFailure] = field(default_factory=list)
    runs: dict[str, int] = field(default_factory=dict)
    spent: int = 0
    cap: int = 0
    exchanges: int = 0
    examples: int = 0
    seconds: float = 0.0
    seed: int | None = None
    profile: str = "ci"
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


# -- the runner ----------------------------------------------------------------------


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


# -- the phases ------------------------------------------------------------------------


@dataclass
class Plan:
    """One property of the run: a strategy, what to do with each example, how many."""

    phase: str
    name: str
    strategy: st.SearchStrategy[Any]
    run: Callable[[Any], None]
    examples: int
    billable: bool = False


def _invalid_case(invalid: S.Invalid) -> Case:
    return Case(invalid.endpoint, invalid.body, raw=invalid.raw, label=invalid.rule, valid=False)


def cheap_plans(provider: Provider, n: int) -> list[Plan]:
    def auth(kind_endpoint: tuple[str, str]) -> None:
        kind, endpoint = kind_endpoint
        body = {"prompt": "auth probe", "async": True} if endpoint == "videos" else {
            "action": "retrieve", "id": "auth-probe"}  # fmt: skip
        if kind == "wrong" and endpoint == "videos":
            return  # a wrong token is probed on /luma/tasks only: nothing to bill
        provider.exchange(Case(endpoint, body, auth=kind, label=f"token-{kind}"))

    def invalid(item: S.Invalid) -> None:
        case = _invalid_case(item)
        if provider.is_risky(case):
            provider.risky_skipped += 1
            return
        provider.exchange(case)

    def unknown(body: dict[str, Any]) -> None:
        status = 404 if body["action"] == "retrieve" else 200
        provider.exchange(Case("tasks", body, label="unknown-id", expect_status=status))

    unknown_ids = S.identifiers().map(lambda i: f"luma-mock-verify-unknown-{i}")
    auth_kinds = st.tuples(st.sampled_from(("missing", "malformed", "wrong")),
                           st.sampled_from(("videos", "tasks")))  # fmt: skip
    return [
        Plan("auth", "auth", auth_kinds, auth, 6),
        Plan("invalid", "invalid videos", S.invalid_video_requests(), invalid, n),
        Plan("invalid", "invalid tasks", S.invalid_task_requests(), invalid, max(1, n // 2)),
        Plan("invalid", "malformed", S.malformed_bodies(), invalid, max(1, n // 4)),
        Plan("invalid", "unknown ids", S.task_requests(unknown_ids), unknown, max(1, n // 4)),
    ]


# Every shape in every mode; the order is the order of value when the budget is small.
SHAPES: tuple[tuple[str, str, str], ...] = (
    ("generate", "none", "sync"), ("generate", "none", "async"),
    ("extend", "id", "async"), ("generate", "first", "callback"),
    ("generate", "last", "sync"), ("extend", "url", "sync"),
    ("generate", "both", "async"), ("extend", "id", "callback"),
    ("generate", "none", "callback"), ("generate", "first", "async"),
    ("generate", "last", "callback"), ("generate", "both", "sync"),
    ("extend", "id", "sync"), ("extend", "url", "async"),
    ("generate", "first", "sync"), ("generate", "last", "async"),
    ("generate", "both", "callback"), ("extend", "url", "callback"),
)  # fmt: skip


def billable_plans(provider: Provider, n: int, image_url: str | None = None) -> list[Plan]:
    shapes = [s for s in SHAPES if s[2] != "callback" or provider.target.callbacks]
    if provider.control is not None and provider.manual_clock and provider.instant_rule is None:
        shapes = [s for s in shapes if s[2] != "sync"]  # they would wait for ever
        provider.notes.append("sync calls skipped: manual clock and no scenario rule")
    if len(shapes) < len(SHAPES):
        provider.notes.append(f"{len(SHAPES) - len(shapes)} shape/mode pairs not reachable here")
    cap = provider.budget.left - stateful_reserve(provider.budget.left)
    share = [min(n, cap // len(shapes) + (i < cap % len(shapes))) for i in range(len(shapes))]
    plans = []
    for (action, variant, mode), count in zip(shapes, share, strict=True):
        if count:
            label = f"{action}-{variant}/{mode}"
            strategy = _shape_strategy(provider, action, variant, mode, image_url)
            run = _billable_run(provider, label)
            plans.append(Plan("billable", label, strategy, run, count, billable=True))
    return plans


def _shape_strategy(
    provider: Provider, action: str, variant: str, mode: Any, image_url: str | None
) -> st.SearchStrategy[dict[str, Any]]:
    receiver = provider.receiver.url if mode == "callback" else None
    if action == "generate":
        strategy = S.generate_requests(frames=variant, mode=mode, callback_url=receiver)  # type: ignore[arg-type]
        if image_url is not None:  # the real service fetches frames: give it a real image
            frames = ("start_image_url", "end_image_url")
            strategy = strategy.map(lambda b: {k: image_url if k in frames else v
                                               for k, v in b.items()})  # fmt: skip
        return strategy

    # extensions of videos made earlier in the run, drawn when the example runs
    def made(part: int, none: str) -> st.SearchStrategy[str]:
        pool = provider.videos  # read when the example is drawn, not when planned
        return st.integers(0, 10**6).map(lambda k: pool[k % len(pool)][part] if pool else none)

    ids, urls = made(0, "none-yet"), made(1, "none")
    return S.extend_requests(by=variant, mode=mode, callback_url=receiver,  # type: ignore[arg-type]
                             video_ids=ids, video_urls=urls)  # fmt: skip


def _billable_run(provider: Provider, label: str) -> Callable[[dict[str, Any]], None]:
    def run(body: dict[str, Any]) -> None:
        if body.get("video_id") == "none-yet" or body.get("video_url") == "none":
            return  # nothing to extend yet
        provider.video(body, label)

    return run


def stateful_reserve(cap: int) -> int:
    """Billable requests kept for the stateful machine: a sixth of the cap."""
    return cap // 6


# -- running plans through Hypothesis ----------------------------------------------------


def _run_plan(provider: Provider, plan: Plan, base: settings, seed: int | None) -> None:
    """Run one plan as a Hypothesis property. Cheap plans raise their first failure into
    Hypothesis, which shrinks it and tells how to reproduce it; billable ones are neither
    shrunk nor replayed (each replay would cost): their failures are kept and the plan
    stops."""
    provider.phase = plan.phase
    stopped = False
    progress = provider.progress
    done_after = progress.done + plan.examples  # shrinking runs more; progress counts these
    rerun = f"rerun with --seed {seed}" if seed is not None and not base.derandomize else ""

    def example(value: Any) -> None:
        nonlocal stopped
        if stopped:
            return
        provider.current = []
        try:
            plan.run(value)
        except BudgetSpent:
            stopped = True
        finally:
            if progress.done < done_after:
                progress.step(plan.phase)
        if provider.current and plan.billable:
            _keep(provider, provider.current, rerun)
            stopped = True
        elif len(provider.current) == 1:
            raise provider.current[0]
        elif provider.current:
            raise CheckFailures(provider.current)

    phases = [Phase.explicit, Phase.generate] + ([] if plan.billable else [Phase.shrink])
    chosen = settings(base, max_examples=plan.examples, phases=phases, database=None,
                      deadline=None, suppress_health_check=list(HealthCheck))  # fmt: skip
    test = chosen(given(plan.strategy)(example))
    if seed is not None and not base.derandomize:
        test = hypothesis_seed(seed)(test)
    try:
        test()
    except Exception as failure:  # every way a property can end is reported
        notes = "\n".join(n.strip() for n in getattr(failure, "__notes__", []))
        _keep(provider, _failures_in(failure, plan.name), "\n".join(filter(None, [notes, rerun])))
    progress.done = max(progress.done, done_after)


def _failures_in(error: BaseException, plan: str) -> list[CheckFailure]:
    """The check failures inside what Hypothesis raised (a flaky one arrives as a group);
    anything else is a failure of the suite itself, reported rather than swallowed."""
    if isinstance(error, CheckFailure):
        return [error]
    if isinstance(error, CheckFailures):
        return error.failures
    inner = getattr(error, "exceptions", None)
    if inner:
        return [f for e in inner for f in _failures_in(e, plan)]
    return [CheckFailure(f"the suite stopped in {plan!r}: {type(error).__name__}: {error}",
                         check="suite-error")]  # fmt: skip


def _keep(provider: Provider, found: list[CheckFailure], reproduce: str) -> None:
    known = {(f.check, f.case.label if f.case else "") for f in provider.failures}
    for failure in found:
        key = (failure.check, failure.case.label if failure.case else "")
        if key not in known:
            failure.reproduce = failure.reproduce or reproduce
            provider.failures.append(failure)
            known.add(key)
    provider.progress.failed = len(provider.failures)


# -- the entry point ------------------------------------------------------------------


def verify(
    target: Target,
    *,
    max_billable: int | None = None,
    profile: str = "ci",
    max_examples: int | None = None,
    record: str | None = None,
    seed: int | None = None,
    stateful: bool = True,
    image_url: str | None = None,
    out: IO[str] | None = sys.stderr,
) -> Verification:
    """Verify ``target`` against the contract and return what was found.

    ``max_billable``: the cap on billable requests (default: 36 on a target with the
    control API, 0 elsewhere — the real service costs money). ``max_examples``: per
    property (default: the profile's). ``record``: a JSON-lines file of every exchange.
    """
    started = time.monotonic()
    profiles.register()
    base = settings.get_profile(profile)
    n = max_examples or base.max_examples
    if seed is None and not base.derandomize:
        seed = random.randrange(2**32)
    recorder = Recorder(record, target.token)
    budget = Budget(0)
    progress = Progress(out, budget)
    provider = Provider(target, budget, recorder, progress)
    try:
        provider.probe_control()
        if max_billable is None:
            max_billable = DEFAULT_CAP_WITH_CONTROL if provider.control is not None else 0
            if not max_billable:
                provider.notes.append("billable checks skipped: pass --max-billable N")
        budget.cap = max_billable
        plans = cheap_plans(provider, n)
        plans += billable_plans(provider, n, image_url) if budget.cap else []
        progress.planned = sum(p.examples for p in plans)
        for phase, group in itertools.groupby(plans, key=lambda p: p.phase):
            for plan in group:
                _run_plan(provider, plan, base, seed)
            progress.phase_done(phase)
        if provider.risky_skipped:
            provider.notes.append(
                f"{provider.risky_skipped} invalid /luma/videos examples with a usable prompt "
                "not sent: without a control API the target may be the real service, which "
                "could accept and bill them"
            )
        if stateful:
            from .stateful import run_machine

            run_machine(provider, base, n, seed)
            progress.phase_done("stateful")
    finally:
        provider.cleanup()
        recorder.close()
    return Verification(
        target=target.name,
        failures=provider.failures,
        runs=dict(provider.ctx.runs),
        spent=budget.spent,
        cap=budget.cap,
        exchanges=recorder.count,
        examples=progress.done,
        seconds=time.monotonic() - started,
        seed=seed,
        profile=profile,
        notes=provider.notes + ([target.hint] if target.hint else []),
    )


def iter_exchanges(path: str) -> Iterator[dict[str, Any]]:
    """The exchanges of a ``--record`` file, one dict each."""
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


__all__ = [
    "REAL_SERVICE",
    "Budget",
    "BudgetSpent",
    "HttpTransport",
    "Provider",
    "Recorder",
    "Target",
    "Transport",
    "Verification",
    "WsgiTransport",
    "iter_exchanges",
    "verify",
]
