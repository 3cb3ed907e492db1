"""The consumer suite: does a client of the Luma API keep the contract?

It drives the user's client through an adapter (see `adapters`) against the fake — a
``luma-mock serve`` process it starts on a free loopback port, or a running fake given
by URL — with requests generated from the contract (`strategies`), and reads what the
client really sent from the fake's journal. Before every example the fake is reset and
told, through its control API, how the example goes: answer at once, hold a task in
``pending``/``processing`` on a manual clock, refuse with a documented error, or break
the answer (reset, empty reply, malformed JSON, cut short, hang).

The checks are in `client_checks`: each looks at one `ClientCall` (what the adapter
was given, the requests it made as the journal saw them, what it returned or raised)
and the fake's answer to it.

    report = run_consumer_suite(my_factory, profile="ci")
    assert report.ok, report.render()

Against the real service the same checks run on the traffic of a `ValidatingProxy`
with a cap on billable requests: `run_against_real_service` (opt-in, costs credits).
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky, HypothesisException

from . import profiles, strategies
from .adapters import AdapterFactory, describe_call, load_factory, operations
from .checks import CheckContext, CheckFailure, CheckFailures, run_checks
from .client_checks import (
    CHECKS_BY_EXPECTATION,
    CLIENT,
    CONSUMER_CHECKS,
    SHARED_CHECKS,
    ClientCall,
    Seen,
)
from .contract import error_codes
from .proxy import Exchange, ValidatingProxy

TOKEN = "luma-mock-consumer"
SETUP_SCENARIO = "luma-mock-consumer-setup"  # marks the suite's own requests to the fake
CASE_RULE = "consumer-case"  # the rule that sets up an example's error, fault or delay
QUEUE, WORK = 2.0, 60.0  # how long a held task waits, then generates (fake seconds)
REAL_BASE_URL = "https://api.acedata.cloud"

# Examples per case, by profile and kind of case. Errors and faults do not depend on
# the request much, so one is enough for CI; flows explore the request space.
EXAMPLES = {
    "ci": {"flow": 3, "error": 1, "fault": 1},
    "dev": {"flow": 10, "error": 2, "fault": 1},
    "thorough": {"flow": 50, "error": 5, "fault": 2},
}
# The checks each kind of case can run (a case whose method is missing skips them).
KIND_CHECKS = {
    "flow": {
        "callback-url-sent",
        *CHECKS_BY_EXPECTATION["answer"],
        *CHECKS_BY_EXPECTATION["running"],
    },
    "error": set(CHECKS_BY_EXPECTATION["error"]),
    "fault": set(CHECKS_BY_EXPECTATION["fault"]),
}
ERRORS = ("invalid_token", "forbidden", "used_up", "too_many_requests", "api_error", "timeout")
FAULTS = ("reset", "empty", "malformed_json", "truncated", "hang")


# -- the fake, started or reused ---------------------------------------------------------


class ControlError(Exception):
    pass


class FakeControl:
    """The fake's control API, and the suite's own requests to it."""

    def __init__(self, url: str, control_token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self._headers = {"authorization": f"Bearer {control_token}"} if control_token else {}

    def _control(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        answer = self.session.request(
            method,
            f"{self.url}/__admin{path}",
            json=body,
            params=params or None,
            headers=self._headers,
            timeout=30,
        )
        if answer.status_code >= 300:
            raise ControlError(f"{method} /__admin{path}: {answer.status_code} {answer.text}")
        return answer.json()

    def reset(self) -> None:
        self._control("POST", "/reset")

    def add_rule(self, rule: dict[str, Any]) -> None:
        self._control("POST", "/scenarios", rule)

    def journal(self, since: int = 0) -> list[Seen]:
        entries = self._control("GET", "/journal", kind="request", since=since)["entries"]
        return [Seen.from_journal(e) for e in entries]

    def manual_clock(self) -> bool:
        return bool(self._control("GET", "/clock")["manual"])

    def advance(self, seconds: float) -> None:
        self._control("POST", "/clock/advance", {"seconds": seconds})

    def complete(self, task_id: str) -> None:
        self._control("POST", f"/tasks/{task_id}/complete")

    def close(self) -> None:
        self.session.close()

    def api(self, path: str, body: dict[str, Any], token: str) -> dict[str, Any]:
        """A request of the suite's own (to make a task or a video to work on)."""
        answer = self.session.post(
            self.url + path,
            json=body,
            headers={"authorization": f"Bearer {token}", "x-luma-mock-scenario": SETUP_SCENARIO},
            timeout=30,
        )
        if answer.status_code != 200:
            raise ControlError(f"POST {path}: {answer.status_code} {answer.text}")
        return answer.json()


class LiveFake:
    """``luma-mock serve`` in its own process on a free loopback port: a manual clock
    (nothing moves unless the suite says so), instant tasks, a fixed seed."""

    def __init__(self, *extra: str) -> None:
        command = [sys.executable, "-m", "mock_server.cli", "serve", "--port", "0"]
        command += ["--clock", "manual", "--delay", "instant", "--seed", "7", *extra]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        if not first.startswith("luma-mock listening on "):
            self.process.kill()
            rest = self.process.stdout.read()
            raise RuntimeError(f"luma-mock serve did not start: {first}{rest}")
        self.url = first.split()[-1]
        # Drain its log as it comes, or a full pipe would stall the fake.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for _ in self.process.stdout:
            pass

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


# -- running a client's calls ------------------------------------------------------------


class FakeJournal:
    """Where the suite reads what the client sent: the fake's journal."""

    def __init__(self, fake: FakeControl) -> None:
        self.fake = fake
        self.seen = 0

    def start(self) -> None:
        self.seen = 0  # the fake was just reset

    def new(self) -> list[Seen]:
        found = [s for s in self.fake.journal(self.seen) if s.rule != "consumer-setup"]
        if found:
            self.seen = max(s.seq for s in found)
        return found


class ProxyJournal:
    """The same, from a validating proxy's records (in front of the real service)."""

    def __init__(self, proxy: ValidatingProxy) -> None:
        self.proxy = proxy
        self.seen = len(proxy.exchanges)

    def start(self) -> None:
        self.seen = len(self.proxy.exchanges)

    def new(self) -> list[Seen]:
        exchanges = self.proxy.exchanges
        found = [_seen_through_proxy(x, i + 1) for i, x in enumerate(exchanges)][self.seen :]
        self.seen = len(exchanges)
        return found


def _seen_through_proxy(exchange: Exchange, seq: int) -> Seen:
    checked = exchange.request_verdict
    verdict = None
    if checked.schema is not None:
        verdict = {
            "schema": checked.schema,
            "ok": checked.ok,
            "problems": checked.problems,
            "unknown_fields": checked.unknown_fields,
        }
    rule = None if exchange.forwarded else "proxy-cap"  # the cap's 429 is not the client's doing
    return Seen(
        exchange.method,
        exchange.path,
        exchange.request,
        verdict,
        exchange.status,
        exchange.answer,
        rule,
        seq,
    )


@dataclass
class CaseResult:
    """How one case went: examples played, checks that applied, the failures found."""

    name: str
    kind: str  # flow, error or fault
    examples: int = 0
    ran: set[str] = field(default_factory=set)  # checks that ran
    failures: list[CheckFailure] = field(default_factory=list)  # of the reported example
    skipped: str = ""  # why the case did not run

    @property
    def ok(self) -> bool:
        return not self.failures


class ClientRun:
    """One run of the suite: the adapter, where it sends its calls, and what was seen."""

    def __init__(
        self,
        adapter: Any,
        fake: FakeControl | None,
        *,
        token: str,
        client_timeout: float,
        call_timeout: float,
        callback_url: str = "",
        journal: FakeJournal | ProxyJournal | None = None,
        base_url: str = "",
    ) -> None:
        """``fake``: the fake's control API; None when the client talks to the real
        service through a proxy (``journal`` then reads the proxy's records)."""
        self.adapter = adapter
        self.fake = fake
        if journal is None:
            assert fake is not None, "without a fake, say where the requests are seen"
            journal = FakeJournal(fake)
        self.journal = journal
        self.base_url = base_url or (fake.url if fake else "")
        self.token = token
        self.client_timeout = client_timeout
        self.grace = max(1.0, client_timeout / 2)
        self.call_timeout = call_timeout
        self.callback_url = callback_url
        self.operations = operations(adapter)
        self.manual = fake.manual_clock() if fake else False
        self.ctx = CheckContext()
        self.warnings: dict[str, None] = {}  # ordered, without repeats
        self.result: CaseResult | None = None
        self._setup: list[dict[str, Any]] = []
        self._steps: list[str] = []  # the example's steps so far, for a reproduction
        self._stragglers: list[threading.Thread] = []

    # -- an example's set-up ---------------------------------------------------------

    @property
    def control(self) -> FakeControl:
        if self.fake is None:
            raise ControlError("this run has no fake to control")
        return self.fake

    def prepare(self, rules: list[dict[str, Any]] | None = None) -> None:
        """Reset the fake, then: the suite's own requests are instant, the example's
        rules apply to the client's, and anything else is instant too."""
        rules = rules or []
        self.wait_for_stragglers()
        fake = self.control
        fake.reset()
        self.journal.start()
        instant = {"delay": 0, "queue": 0}
        fake.add_rule(
            {"name": "consumer-setup", "match": {"scenario": SETUP_SCENARIO}, "then": instant}
        )
        for rule in rules:
            fake.add_rule({"name": CASE_RULE, **rule})
        fake.add_rule(
            {"name": "consumer-instant", "match": {"endpoint": "videos"}, "then": instant}
        )
        self._setup = [{"name": CASE_RULE, **rule} for rule in rules]
        self._steps = []

    def make_video(self) -> dict[str, Any]:
        video = self.control.api("/luma/videos", {"prompt": "a source video to extend"}, self.token)
        self._steps.append(f"# made first: a finished video to extend, {video['video_id']}")
        return video

    def make_task(self, body: dict[str, Any]) -> str:
        task_id = self.control.api("/luma/videos", {**body, "async": True}, self.token)["task_id"]
        self._steps.append(f"# made first: a task to retrieve, {task_id}")
        return str(task_id)

    # -- one call through the adapter ------------------------------------------------

    def call(
        self,
        operation: str,
        fields: dict[str, Any],
        *,
        expect: str = "answer",
        error_code: str | None = None,
        fault: str | None = None,
    ) -> ClientCall:
        """Make one call through the adapter, read what it sent, and run its checks;
        raises `CheckFailures` when any fails."""
        bound = self.client_timeout + self.grace if fault == "hang" else self.call_timeout
        method = getattr(self.adapter, operation)
        if operation == "retrieve":
            outcome = self._bounded(method, (fields["task_id"],), {}, bound)
        else:
            outcome = self._bounded(method, (), fields, bound)
        call = ClientCall(
            operation=CLIENT,
            path="/luma/tasks" if operation == "retrieve" else "/luma/videos",
            body=fields,
            label=self.result.name if self.result else operation,
            call=operation,
            fields=fields,
            expect=expect,
            returned=outcome[0],
            raised=outcome[1],
            in_time=outcome[2],
            bound=bound,
            error_code=error_code,
            fault=fault,
            setup=list(self._setup),
            before=list(self._steps),
        )
        call.sent = self.journal.new()
        for warning in call.unknown_fields():
            self.warnings[warning] = None
        if any(seen.rule == "proxy-cap" for seen in call.sent):
            warning = (
                f"{operation}: the proxy's billable cap held a request back, so what the "
                "service would answer was not checked (raise max_billable)"
            )
            self.warnings[warning] = None
        names = call.checks()
        before = {name: self.ctx.runs[name] for name in names}
        failures = run_checks(self.ctx, call, call.answer(), only=names)
        if self.result is not None:  # the checks that applied (not SKIPPED)
            self.result.ran.update(n for n in names if self.ctx.runs[n] > before[n])
        if failures:
            steps = self.reproduction(call)
            for failure in failures:
                failure.reproduce = steps
            raise CheckFailures(sorted(failures, key=lambda f: CONSUMER_CHECKS.index(f.check)))
        self._steps.append(describe_call(operation, fields))
        return call

    def advance(self, seconds: float) -> None:
        """Move the fake's manual clock (tasks progress on the way)."""
        self.control.advance(seconds)
        body = shlex.quote(json.dumps({"seconds": seconds}))
        self._steps.append(
            f"curl -s -X POST {self.base_url}/__admin/clock/advance "
            f"-H 'content-type: application/json' -d {body}"
        )

    def complete(self, task_id: str) -> None:
        self.control.complete(task_id)
        self._steps.append(f"curl -s -X POST {self.base_url}/__admin/tasks/{task_id}/complete")

    def _bounded(
        self,
        method: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        bound: float,
    ) -> tuple[Any, BaseException | None, bool]:
        """Call on a thread of its own, so a client that never gives up cannot stall the
        suite; such a thread is waited for (up to a limit) before the next example."""
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["returned"] = method(*args, **kwargs)
            except BaseException as error:
                box["raised"] = error

        worker = threading.Thread(target=run, name="luma-consumer-call", daemon=True)
        worker.start()
        worker.join(bound)
        if worker.is_alive():
            self._stragglers.append(worker)
            return None, None, False
        return box.get("returned"), box.get("raised"), True

    def wait_for_stragglers(self) -> None:
        # A hung answer ends when the fake closes it; a client that waited past our
        # bound then raises (or retries), and must be done before the next example.
        for worker in self._stragglers:
            worker.join(self.hang_seconds + self.grace)
        self._stragglers = [w for w in self._stragglers if w.is_alive()]

    @property
    def hang_seconds(self) -> float:
        """How long the fake holds a hung answer: past our bound (the hold starts only
        once the request has arrived, so a client without a timeout is still waiting
        at the bound), and no longer, so its thread is soon done."""
        return self.client_timeout + self.grace + 0.5

    def reproduction(self, call: ClientCall) -> str:
        url = self.base_url
        lines = []
        if self.fake is not None:
            lines += [
                f"# a fake at {url} (luma-mock serve --clock manual --delay instant), reset:",
                f"curl -s -X POST {url}/__admin/reset",
            ]
        for rule in call.setup:
            lines.append(
                f"curl -s -X POST {url}/__admin/scenarios -H 'content-type: application/json' "
                f"-d {shlex.quote(json.dumps(rule))}"
            )
        lines += call.before
        lines.append(describe_call(call.call, call.fields))
        lines += [f"# the client sent: {seen.curl(url)}" for seen in call.sent]
        return "\n".join(lines)


# -- the cases ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsumerCase:
    """One situation the client is put in; `play` makes its calls (checks included)."""

    name: str
    operation: str  # the adapter method it needs
    kind: str  # flow, error or fault
    requests: Callable[[ClientRun], st.SearchStrategy[dict[str, Any]]]
    play: Callable[[ClientRun, dict[str, Any]], None]


def _without_action(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "action"}


def _generate(mode: strategies.Mode | None) -> Callable[[ClientRun], Any]:
    return lambda run: strategies.generate_requests(mode=mode, callback_url=run.callback_url)


SOURCE_ID = "source-video-id"  # replaced by the video the suite makes first
SOURCE_URL = "https://source.example.test/luma/source.mp4"


def _extend(by: str, mode: strategies.Mode | None = None) -> Callable[[ClientRun], Any]:
    return lambda run: strategies.extend_requests(
        by=by,  # type: ignore[arg-type]
        mode=mode,
        callback_url=run.callback_url,
        video_ids=[SOURCE_ID],
        video_urls=[SOURCE_URL],
    )


def _source(run: ClientRun, body: dict[str, Any]) -> dict[str, Any]:
    """The extend body, pointing at a video the fake really made."""
    video = run.make_video()
    fields = _without_action(body)
    if "video_id" in fields:
        fields["video_id"] = video["video_id"]
    if "video_url" in fields:
        fields["video_url"] = video["video_url"]
    return fields


def play_answer(operation: str) -> Callable[[ClientRun, dict[str, Any]], None]:
    def play(run: ClientRun, body: dict[str, Any]) -> None:
        run.prepare()
        fields = _source(run, body) if operation == "extend" else _without_action(body)
        run.call(operation, fields)

    return play


def play_held_task(run: ClientRun, body: dict[str, Any]) -> None:
    """generate with async, then retrieve while the task is pending, processing (on a
    manual clock) and once it is completed."""
    held = {"delay": WORK, "queue": QUEUE} if run.manual else {"delay": 3600, "queue": 3600}
    run.prepare([{"match": {"endpoint": "videos"}, "then": held}])
    accepted = run.call("generate", _without_action(body))
    seen = accepted.last()
    task_id = seen.answer.get("task_id") if seen and isinstance(seen.answer, dict) else None
    if task_id is None or "retrieve" not in run.operations:
        return
    ask = {"task_id": task_id}  # the fake's id, whatever the client made of it
    run.call("retrieve", ask, expect="running")
    if run.manual:
        run.advance(QUEUE)
        run.call("retrieve", ask, expect="running")
        run.advance(WORK)
    else:
        run.complete(task_id)
    run.call("retrieve", ask)


def _target(run: ClientRun, operation: str, body: dict[str, Any]) -> dict[str, Any]:
    """Make what the operation works on, and return the adapter's fields."""
    if operation == "extend":
        return _source(run, body)
    if operation == "retrieve":
        return {"task_id": run.make_task(_without_action(body))}
    return _without_action(body)


def _match(operation: str) -> dict[str, Any]:
    if operation == "retrieve":
        return {"endpoint": "tasks"}
    return {"endpoint": "videos", "action": operation}


def play_error(operation: str, code: str) -> Callable[[ClientRun, dict[str, Any]], None]:
    def play(run: ClientRun, body: dict[str, Any]) -> None:
        run.prepare([{"match": _match(operation), "then": {"reject": code}}])
        fields = _target(run, operation, body)
        run.call(operation, fields, expect="error", error_code=code)

    return play


def play_fault(operation: str, kind: str) -> Callable[[ClientRun, dict[str, Any]], None]:
    def play(run: ClientRun, body: dict[str, Any]) -> None:
        then = {"fault": kind, "seconds": run.hang_seconds}
        run.prepare([{"match": _match(operation), "then": then}])
        fields = _target(run, operation, body)
        run.call(operation, fields, expect="fault", fault=kind)

    return play


def cases() -> list[ConsumerCase]:
    """Every case of the suite, in the order they run."""
    found = [
        ConsumerCase(
            "generate (sync)", "generate", "flow", _generate("sync"), play_answer("generate")
        ),
        ConsumerCase(
            "generate (async), then retrieve while pending, processing, completed",
            "generate",
            "flow",
            _generate("async"),
            play_held_task,
        ),
        ConsumerCase(
            "generate (callback_url)",
            "generate",
            "flow",
            _generate("callback"),
            play_answer("generate"),
        ),
        ConsumerCase("extend by video_id", "extend", "flow", _extend("id"), play_answer("extend")),
        ConsumerCase(
            "extend by video_url", "extend", "flow", _extend("url"), play_answer("extend")
        ),
    ]
    requests_for = {
        "generate": _generate(None),
        "extend": _extend("id"),
        "retrieve": _generate("async"),
    }
    for operation in ("generate", "extend", "retrieve"):
        codes = ERRORS + (("not_found",) if operation == "retrieve" else ())
        for code in codes:
            status = error_codes()[code].status
            found.append(
                ConsumerCase(
                    f"{operation}: {status} {code}",
                    operation,
                    "error",
                    requests_for[operation],
                    play_error(operation, code),
                )
            )
    for operation in ("generate", "retrieve"):
        for kind in FAULTS:
            found.append(
                ConsumerCase(
                    f"{operation}: fault {kind}",
                    operation,
                    "fault",
                    _generate("async") if operation == "generate" else requests_for[operation],
                    play_fault(operation, kind),
                )
            )
    return found


# -- running the suite ----------------------------------------------------------------------


def hypothesis_settings(profile: str, kind: str) -> settings:
    """The project's profile (``ci`` is derandomized), with this kind's example budget.
    Flows shrink a failure to the smallest request; errors and faults do not depend on
    the request much, and a hang would make shrinking slow."""
    if profile not in EXAMPLES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(EXAMPLES)}")
    profiles.register(prefix="luma-")  # beside, never over, a project's own profiles
    phases = list(Phase) if kind == "flow" else [Phase.explicit, Phase.reuse, Phase.generate]
    return settings(
        settings.get_profile(f"luma-{profile}"),
        max_examples=EXAMPLES[profile][kind],
        phases=phases,
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )


SHRINK_BUDGET = 10  # examples tried after the first failure, to find a smaller one


def run_case(run: ClientRun, case: ConsumerCase, profile: str) -> CaseResult:
    """Run one case under Hypothesis. Each distinct request is played once and its
    outcome remembered: a replay (Hypothesis replays the failure it reports) costs
    nothing, and a client that fails only sometimes is not called flaky for it. A flow
    shrinks its failure for `SHRINK_BUDGET` new requests, then takes the smallest found;
    errors and faults keep the first failure and do not look further."""
    result = CaseResult(case.name, case.kind)
    if case.operation not in run.operations:
        result.skipped = f"the adapter has no {case.operation}()"
        return result
    run.result = result
    shrink = case.kind == "flow"
    outcomes: dict[str, list[CheckFailure]] = {}  # request -> its failures (none: it passed)
    tried_since_failure = 0

    @hypothesis_settings(profile, case.kind)
    @given(body=case.requests(run))
    def example(body: dict[str, Any]) -> None:
        nonlocal tried_since_failure
        key = json.dumps(body, sort_keys=True, default=repr)
        if key not in outcomes:
            enough = not shrink or tried_since_failure >= SHRINK_BUDGET or suite_broken()
            if result.failures and enough:
                return  # counted as passing, so the smallest failure so far stays
            tried_since_failure += 1 if result.failures else 0
            result.examples += 1
            try:
                case.play(run, body)
                outcomes[key] = []
            except CheckFailures as found:
                outcomes[key] = found.failures
                result.failures = found.failures  # while shrinking: smaller than the last
            except (ControlError, OSError) as broken:  # the fake failed us, not the client
                outcomes[key] = []
                result.failures = [_suite_failure(case, broken)]
        if outcomes[key] and shrink:
            raise CheckFailures(outcomes[key])

    def suite_broken() -> bool:
        return any(f.check == "suite" for f in result.failures)

    try:
        example()
    except CheckFailures as found:
        result.failures = found.failures
    except Flaky as flaky:
        result.failures = _flaky_failures(flaky, case)
    except (HypothesisException, ControlError, OSError) as broken:
        result.failures = [_suite_failure(case, broken)]
    finally:
        run.result = None
    return result


def _flaky_failures(flaky: Flaky, case: ConsumerCase) -> list[CheckFailure]:
    inner = getattr(flaky, "exceptions", ())
    for error in inner:
        if isinstance(error, CheckFailures):
            for failure in error.failures:
                failure.title += " (flaky: it did not fail again on replay)"
            return error.failures
    return [_suite_failure(case, flaky)]


def _suite_failure(case: ConsumerCase, error: BaseException) -> CheckFailure:
    title = f"the suite could not run {case.name}: {type(error).__name__}: {error}"
    return CheckFailure(title, check="suite")


@dataclass
class ConsumerReport:
    """What the suite found: per case, per check, the failures and the warnings."""

    target: str
    profile: str
    results: list[CaseResult]
    warnings: list[str]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failures(self) -> list[CheckFailure]:
        return [f for r in self.results for f in r.failures]

    def failed_checks(self) -> set[str]:
        return {f.check for f in self.failures}

    def tally(self) -> dict[str, tuple[int, int, int]]:
        """check → (cases passed, cases failed, cases skipped)."""
        counts = {name: [0, 0, 0] for name in CONSUMER_CHECKS}
        for result in self.results:
            failed = {f.check for f in result.failures}
            for name in result.ran:
                counts.setdefault(name, [0, 0, 0])[1 if name in failed else 0] += 1
            if result.skipped:
                for name in CONSUMER_CHECKS:
                    counts[name][2] += 1 if name in _checks_of_kind(result.kind) else 0
        return {name: (p, f, s) for name, (p, f, s) in counts.items()}

    def table(self) -> str:
        width = max(len(n) for n in CONSUMER_CHECKS) + 2
        lines = [f"{'check':<{width}}{'passed':>8}{'failed':>8}{'skipped':>9}"]
        for name, (passed, failed, skipped) in self.tally().items():
            lines.append(f"{name:<{width}}{passed:>8}{failed:>8}{skipped:>9}")
        return "\n".join(lines)

    def render(self) -> str:
        examples = sum(r.examples for r in self.results)
        ran = sum(1 for r in self.results if not r.skipped)
        parts = [
            f"consumer suite against {self.target} (profile {self.profile}): "
            f"{ran} cases, {examples} examples, "
            + ("all checks hold" if self.ok else f"{len(self.failures)} failure(s)"),
            "",
            self.table(),
        ]
        if self.warnings:
            parts += ["", "warnings:", *(f"  - {w}" for w in self.warnings)]
        for result in self.results:
            if not result.failures:
                continue
            first, *others = result.failures
            parts += ["", f"FAILED {first.check} — {result.name}", _indent(str(first))]
            parts += [f"  also failed: [{f.check}] {f.title}" for f in others]
            if first.reproduce:
                parts += ["  reproduce:", _indent(first.reproduce, 4)]
        return "\n".join(parts)


def _checks_of_kind(kind: str) -> set[str]:
    return set(SHARED_CHECKS) | KIND_CHECKS[kind]


def _indent(text: str, by: int = 2) -> str:
    return "\n".join(" " * by + line for line in text.splitlines())


@contextmanager
def _fake(fake_url: str | None, control_token: str | None) -> Iterator[FakeControl]:
    live = LiveFake() if fake_url is None else None
    control = FakeControl(live.url if live is not None else str(fake_url), control_token)
    try:
        yield control
    finally:
        control.close()
        if live is not None:
            live.stop()


def run_consumer_suite(
    factory: AdapterFactory,
    *,
    profile: str = "ci",
    fake_url: str | None = None,
    control_token: str | None = None,
    token: str = TOKEN,
    client_timeout: float = 10.0,
    call_timeout: float = 60.0,
    only: Callable[[ConsumerCase], bool] | None = None,
    progress: Callable[[CaseResult], None] | None = None,
) -> ConsumerReport:
    """Run the consumer suite on the client that ``factory(base_url, token)`` adapts.

    ``fake_url``: a running fake (with its control API) instead of starting one.
    ``client_timeout``: how long the client takes to give up on a quick call, retries
    included; a hung answer must make it raise within that (plus some grace).
    ``call_timeout``: how long any call may take before the suite stops waiting.
    """
    from mock_server.receiver import CallbackReceiver

    with ExitStack() as stack:
        fake = stack.enter_context(_fake(fake_url, control_token))
        receiver = stack.enter_context(CallbackReceiver())
        adapter = factory(fake.url, token)
        run = ClientRun(
            adapter,
            fake,
            token=token,
            client_timeout=client_timeout,
            call_timeout=call_timeout,
            callback_url=receiver.url,
        )
        results = []
        try:
            for case in cases():
                if only is not None and not only(case):
                    continue
                result = run_case(run, case, profile)
                results.append(result)
                if progress is not None:
                    progress(result)
        finally:
            run.wait_for_stragglers()
            _close(adapter)
        return ConsumerReport(fake.url, profile, results, list(run.warnings))


# -- against the real service, through the proxy --------------------------------------------

REAL_PROMPT = "A paper boat drifts down a rain-soaked street, slow dolly shot"


def run_against_real_service(
    factory: AdapterFactory,
    token: str,
    *,
    target: str = REAL_BASE_URL,
    max_billable: int = 2,
    client_timeout: float = 60.0,
    progress: Callable[[CaseResult], None] | None = None,
) -> ConsumerReport:
    """The checks that need no fake, on the client talking to the real service through
    a `ValidatingProxy` that forwards at most ``max_billable`` generate/extend requests:
    one asynchronous generate (one video's credits) and a retrieve of it, a retrieve of
    an unknown task, and a generate with a wrong token. Fixed inputs: each costs money.
    Drift in the service's own answers is reported as warnings."""
    with ValidatingProxy(target, max_billable=max_billable) as proxy:
        adapter = factory(proxy.url, token)
        run = ClientRun(
            adapter,
            None,
            token=token,
            client_timeout=client_timeout,
            call_timeout=max(client_timeout, 60.0),
            journal=ProxyJournal(proxy),
            base_url=target,
        )
        plays: list[tuple[str, str, Callable[[], None]]] = [
            ("generate (async), then retrieve", "generate", lambda: _real_generate(run)),
            ("retrieve: an unknown task", "retrieve", lambda: _real_unknown_task(run)),
            (
                "generate: a wrong token",
                "generate",
                lambda: _real_wrong_token(run, factory(proxy.url, "luma-mock-wrong-token")),
            ),
        ]
        results = []
        for name, operation, play in plays:
            result = CaseResult(name, "flow" if operation == "generate" else "error")
            if operation not in run.operations:
                result.skipped = f"the adapter has no {operation}()"
            else:
                run.result = result
                result.examples = 1
                try:
                    play()
                except CheckFailures as found:
                    result.failures = found.failures
            results.append(result)
            if progress is not None:
                progress(result)
        _close(adapter)
        warnings = list(run.warnings) + [
            f"the service's answer drifted from the contract: {x.line()}"
            for x in proxy.exchanges
            if not x.answer_verdict.ok
        ]
        return ConsumerReport(f"{target} (through {proxy.url})", "real", results, warnings)


def _real_generate(run: ClientRun) -> None:
    accepted = run.call("generate", {"prompt": REAL_PROMPT, "aspect_ratio": "16:9", "async": True})
    seen = accepted.last()
    task_id = seen.answer.get("task_id") if seen and isinstance(seen.answer, dict) else None
    if task_id and "retrieve" in run.operations:
        run.call("retrieve", {"task_id": task_id}, expect="running")


def _real_unknown_task(run: ClientRun) -> None:
    run.call("retrieve", {"task_id": "luma-mock-no-such-task"}, expect="error")


def _real_wrong_token(run: ClientRun, adapter: Any) -> None:
    given, run.adapter = run.adapter, adapter
    try:
        run.call("generate", {"prompt": REAL_PROMPT, "async": True}, expect="error")
    finally:
        run.adapter = given
        _close(adapter)


def _close(adapter: Any) -> None:
    close = getattr(adapter, "close", None)
    if callable(close):
        close()


# -- luma-mock verify-client (arguments in mock_server.cli) -------------------------------


def main(args: Any) -> int:
    """Exit 0 when every check holds, 1 when one fails, 2 when the suite cannot run."""
    try:
        factory = load_factory(args.factory)
    except (ImportError, AttributeError, ValueError) as bad:
        print(f"luma-mock verify-client: cannot load {args.factory}: {bad}", file=sys.stderr)
        return 2

    def show(result: CaseResult) -> None:
        if result.skipped:
            mark, detail = "skip", result.skipped
        elif result.ok:
            mark, detail = "ok", f"{result.examples} example(s)"
        else:
            mark, detail = "FAIL", ", ".join(dict.fromkeys(f.check for f in result.failures))
        print(f"  {mark:<5}{result.name:<72}{detail}", flush=True)

    print(f"luma-mock verify-client {args.factory} (profile {args.profile})", flush=True)
    try:
        report = run_consumer_suite(
            factory,
            profile=args.profile,
            fake_url=args.fake_url,
            control_token=args.control_token,
            token=args.token,
            client_timeout=args.client_timeout,
            only=(lambda case: args.only in case.name) if args.only else None,
            progress=show,
        )
    except (RuntimeError, ControlError, OSError) as broken:
        print(f"luma-mock verify-client: the suite could not run: {broken}", file=sys.stderr)
        return 2
    print()
    print(report.render(), flush=True)
    return 0 if report.ok else 1
