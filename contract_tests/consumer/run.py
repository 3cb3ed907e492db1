"""One run of a client's calls: the adapter, where its requests go (the fake, or a
validating proxy in front of the real service), and where the suite reads what it sent.
`ClientRun.call` makes one call on a thread of its own, reads the requests it made and
runs the checks that apply; each example's set-up and steps are kept, so a failure comes
with a reproduction."""

from __future__ import annotations

import json
import shlex
import threading
from collections.abc import Callable
from typing import Any

from ..checks import CheckContext, CheckFailures, run_checks
from ..checks.client import CONSUMER_CHECKS
from ..checks.client_calls import CLIENT, PROXY_CAP, ClientCall, Seen
from .adapters import describe_call, operations
from .fake import SETUP_SCENARIO, ControlError, FakeControl
from .proxy import ValidatingProxy
from .report import CaseResult
from .verdicts import Exchange

CASE_RULE = "consumer-case"  # the rule that sets up an example's error, fault or delay


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
    rule = None if exchange.forwarded else PROXY_CAP  # the cap's 429 is not the client's doing
    # A forwarded request with a note got the proxy's own 502: the target did not answer.
    fault = exchange.note if exchange.forwarded and exchange.note else None
    return Seen(
        exchange.method,
        exchange.path,
        exchange.request,
        verdict,
        exchange.status,
        exchange.answer,
        rule,
        seq,
        fault,
    )


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

    @classmethod
    def through_proxy(
        cls, adapter: Any, proxy: ValidatingProxy, target: str, token: str, client_timeout: float
    ) -> ClientRun:
        """A client talking to the real service at ``target`` through ``proxy``: no fake
        to control, and what it sent read from the proxy's records."""
        call_timeout = max(client_timeout, 60.0)
        journal = ProxyJournal(proxy)
        return cls(
            adapter,
            None,
            token=token,
            client_timeout=client_timeout,
            call_timeout=call_timeout,
            journal=journal,
            base_url=target,
        )

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
        if any(seen.rule == PROXY_CAP for seen in call.sent):
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
