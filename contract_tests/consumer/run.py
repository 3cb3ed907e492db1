"""One run of a client's calls, for every dialect: the adapter, where its requests go
(the fake, or a validating proxy in front of the real service), and where the suite
reads what it sent. `ClientRun.call` makes one call on a thread of its own (`bounded`),
reads the requests it made and runs the checks that apply; each example's set-up and
steps are kept, so a failure comes with a reproduction."""

from __future__ import annotations

import json
import shlex
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..checks import CheckContext, CheckFailures, run_checks
from ..checks.client_calls import CLIENT, PROXY_CAP, ClientCall
from ..contract.packs import pack
from .adapters import close_adapter, describe_call, operations
from .dialect import ClientRules, ConsumerDialect, client_of, consumer_of
from .fake import SETUP_SCENARIO, ControlError, FakeControl
from .journals import SETUP_RULE, FakeJournal, Journal, ProxyJournal
from .proxy import ValidatingProxy
from .report import CaseResult

CASE_RULE = "consumer-case"  # the rule that sets up an example's error, fault or delay
INSTANT = {"delay": 0, "queue": 0}


def bounded(
    method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], bound: float
) -> tuple[Any, BaseException | None, threading.Thread | None]:
    """Call on a thread of its own, so a client that never gives up cannot stall the
    suite: what it returned, what it raised, and — when it was still running after
    ``bound`` seconds — its thread, which the caller must join before going on."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["returned"] = method(*args, **kwargs)
        except BaseException as error:  # what the client raised is the outcome
            box["raised"] = error

    worker = threading.Thread(target=run, name="luma-consumer-call", daemon=True)
    worker.start()
    worker.join(bound)
    if worker.is_alive():
        return None, None, worker
    return box.get("returned"), box.get("raised"), None


class ClientRun:
    """One run of the suite: the adapter, where it sends its calls, and what was seen."""

    def __init__(
        self,
        adapter: Any,
        fake: FakeControl | None,
        *,
        dialect: str,
        token: str,
        client_timeout: float,
        call_timeout: float,
        callback_url: str = "",
        journal: Journal | None = None,
        base_url: str = "",
        pays: Callable[[Any], Any] | None = None,
        network: str = "base",
    ) -> None:
        """``fake``: the fake's control API; None when the client talks to the real
        service through a proxy (``journal`` then reads the proxy's records).
        ``pays``: makes an adapter that pays with the payer it is given (and has no
        token), for the x402 situations; ``network``: where its payers pay."""
        self.adapter = adapter
        self.fake = fake
        self.dialect = dialect
        self.speaks: ConsumerDialect = consumer_of(dialect)
        self.rules: ClientRules = client_of(dialect)
        if journal is None:
            assert fake is not None, "without a fake, say where the requests are seen"
            journal = FakeJournal(fake, dialect)
        self.journal = journal
        self.url = base_url or (fake.url if fake else "")  # the fake's (or target's) root
        self.prefix = pack(dialect).path_prefix
        self.token = token
        self.client_timeout = client_timeout
        self.grace = max(1.0, client_timeout / 2)
        self.call_timeout = call_timeout
        self.callback_url = callback_url
        self.operations = operations(adapter, self.speaks.OPERATIONS)
        self.manual = fake.manual_clock() if fake else False
        self.ctx = CheckContext()
        self.warnings: dict[str, None] = {}  # ordered, without repeats
        self.result: CaseResult | None = None
        self.setup: list[dict[str, Any]] = []
        self.steps: list[str] = []  # the example's steps so far, for a reproduction
        self._stragglers: list[threading.Thread] = []
        self._watchers: list[threading.Thread] = []
        self._stop_watching = threading.Event()
        self.pays = pays
        self.network = network
        self.paying_now = False  # calls go through a paying adapter (checked as such)
        self.refusal: str | None = None  # the reason its payments are refused, if told
        self.cannot_pay = ""  # why the x402 situations are skipped, when they are
        self.payer: Any = None  # the paying adapter's payer, once made
        self._paying: Any = None  # the adapter that pays (x402), made on first use

    @classmethod
    def through_proxy(
        cls,
        adapter: Any,
        proxy: ValidatingProxy,
        target: str,
        token: str,
        client_timeout: float,
        dialect: str,
    ) -> ClientRun:
        """A client talking to the real service at ``target`` through ``proxy``: no fake
        to control, and what it sent read from the proxy's records."""
        return cls(
            adapter,
            None,
            dialect=dialect,
            token=token,
            client_timeout=client_timeout,
            call_timeout=max(client_timeout, 60.0),
            journal=ProxyJournal(proxy, dialect),
            base_url=target,
        )

    @property
    def base_url(self) -> str:
        """What the adapter is given: the root, and the dialect's prefix."""
        return self.url + self.prefix

    # -- an example's set-up ---------------------------------------------------------

    @property
    def control(self) -> FakeControl:
        if self.fake is None:
            raise ControlError("this run has no fake to control")
        return self.fake

    def prepare(
        self, rules: list[dict[str, Any]] | None = None, setup: dict[str, Any] | None = None
    ) -> None:
        """Reset the fake, then: the suite's own requests go as ``setup`` says (at once
        by default), and the example's rules apply to the client's."""
        rules = rules or []
        self.wait_for_stragglers()
        fake = self.control
        fake.reset()
        self.journal.start()
        made = {"match": {"scenario": SETUP_SCENARIO}, "then": setup or INSTANT}
        fake.add_rule({"name": SETUP_RULE, **made})
        for rule in rules:
            fake.add_rule({"name": CASE_RULE, **rule})
        self.setup = [{"name": CASE_RULE, **rule} for rule in rules]
        self.steps = []

    def make(self, path: str, body: dict[str, Any], note: str) -> dict[str, Any]:
        """A request of the suite's own, to ``path`` under the dialect's prefix (to make
        something the call works on); ``note`` says what, in the reproduction."""
        made = self.control.api(self.prefix + path, body, self.token)
        self.steps.append(f"# made first: {note.format(**made)}")
        return made

    def note(self, step: str) -> None:
        self.steps.append(f"# {step}")

    def advance(self, seconds: float) -> None:
        """Move the fake's manual clock (tasks progress on the way)."""
        self.control.advance(seconds)
        body = shlex.quote(json.dumps({"seconds": seconds}))
        self.steps.append(
            f"curl -s -X POST {self.url}/__admin/clock/advance "
            f"-H 'content-type: application/json' -d {body}"
        )

    def complete(self, task_id: str) -> None:
        self.control.complete(task_id)
        self.steps.append(f"curl -s -X POST {self.url}/__admin/tasks/{task_id}/complete")

    def after_requests(
        self, method: str, path: str, count: int, then: Callable[[], None], step: str
    ) -> None:
        """Once the client's ``count``-th ``method path`` (under the prefix) has been
        answered, ``then()`` — watched through the journal on a thread of its own,
        which `call` joins before its checks."""
        fake, full = self.control, self.prefix + path
        filters = {"method": method, "path": full, "answered": True}

        def watch() -> None:
            since = 0
            for _ in range(count):
                while not self._stop_watching.is_set():
                    entry = fake.wait_for(0.5, since=since, **filters)
                    if entry is not None:
                        since = int(entry["seq"])
                        break
                else:
                    return
            then()

        self.steps.append(f"# {step}")
        self._stop_watching.clear()
        watcher = threading.Thread(target=watch, name="luma-consumer-watch", daemon=True)
        self._watchers.append(watcher)
        watcher.start()

    @contextmanager
    def adapted(self, adapter: Any) -> Iterator[None]:
        """Calls go through ``adapter`` for a while (one made with another token), which
        is closed after."""
        given, self.adapter = self.adapter, adapter
        try:
            yield
        finally:
            self.adapter = given
            close_adapter(adapter)

    @contextmanager
    def paying(self, refusal: str | None = None) -> Iterator[Any]:
        """For a while, calls go through the run's paying adapter — made on first use
        with a fresh payer and no token, kept for the run as a client keeps its wallet —
        and are checked as a paying client's (`checks.payments`); yields the payer.
        ``refusal``: the gateway refuses its next payments so (scripted here)."""
        self.open_paying()
        if refusal is not None:
            self.control.refuse_payments(refusal, 2)  # a second payment is refused too
            body = shlex.quote(json.dumps({"reason": refusal, "count": 2}))
            self.steps.append(
                f"curl -s -X POST {self.url}/__admin/x402/refusals "
                f"-H 'content-type: application/json' -d {body}"
            )
        self.steps.append(f"# the adapter: factory(base_url, '', payer=<payer on {self.network}>)")
        given, self.adapter = self.adapter, self._paying
        self.paying_now, self.refusal = True, refusal
        try:
            yield self.payer
        finally:
            self.adapter, self.paying_now, self.refusal = given, False, None

    def open_paying(self) -> None:
        """Make the paying adapter and its payer, if not yet made. The suite calls it
        before the first case: eth-account raises the recursion limit as it loads, which
        Hypothesis warns about when it happens inside an example."""
        if self.pays is None:
            raise ControlError("this run has no paying adapter (x402 is off)")
        if self._paying is None:
            from ..payments import Payer

            self.payer = Payer.fresh(self.network)
            self._paying = self.pays(self.payer)

    def close_paying(self) -> None:
        """Close the paying adapter, if one was made."""
        if self._paying is not None:
            close_adapter(self._paying)
            self._paying = None

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
        shape = self.speaks.shape(operation, fields)
        bound = self.client_timeout + self.grace if fault == "hang" else self.call_timeout
        method = getattr(self.adapter, operation)
        returned, raised, straggler = bounded(method, shape.args, shape.kwargs, bound)
        if straggler is not None:
            self._stragglers.append(straggler)
        self._stop_watching.set()
        for watcher in self._watchers:
            watcher.join()
        self._watchers = []
        call = ClientCall(
            operation=CLIENT,
            method=shape.method,
            path=shape.path,
            body=fields,
            label=self.result.name if self.result else operation,
            dialect=self.dialect,
            call=operation,
            fields=fields,
            expect=expect,
            returned=returned,
            raised=raised,
            in_time=straggler is None,
            bound=bound,
            error_code=error_code,
            fault=fault,
            token="" if self.paying_now else self.token,
            bills_allowed=shape.bills_allowed,
            setup=list(self.setup),
            before=list(self.steps),
            x402=self.paying_now,
            refusal=self.refusal,
        )
        call.sent = self.journal.new()
        self._warn(call)
        names = self.rules.checks_for(call)
        before = {name: self.ctx.runs[name] for name in names}
        failures = run_checks(self.ctx, call, call.answer(), only=names)
        if self.result is not None:  # the checks that applied (not SKIPPED)
            self.result.ran.update(n for n in names if self.ctx.runs[n] > before[n])
        if failures:
            steps = self.reproduction(call)
            for failure in failures:
                failure.reproduce = steps
            order = self.checks
            raise CheckFailures(sorted(failures, key=lambda f: order.index(f.check)))
        self.steps.append(describe_call(operation, shape.args, shape.kwargs))
        return call

    @property
    def checks(self) -> tuple[str, ...]:
        """The dialect's client checks, in a report's order; a paying client's too."""
        paying = getattr(self.rules, "X402_CHECKS", ()) if self.pays is not None else ()
        return tuple(self.rules.CHECKS) + tuple(paying)

    def _warn(self, call: ClientCall) -> None:
        for warning in call.unknown_fields():
            self.warnings[warning] = None
        if any(seen.rule == PROXY_CAP for seen in call.sent):
            warning = (
                f"{call.call}: the proxy's billable cap held a request back, so what the "
                "service would answer was not checked (raise max_billable)"
            )
            self.warnings[warning] = None

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

    @property
    def dribble_seconds(self) -> float:
        """How long a dribbled answer takes: well within the client's timeout."""
        return min(1.0, self.client_timeout / 4)

    def reproduction(self, call: ClientCall) -> str:
        url = self.url
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
        shape = self.speaks.shape(call.call, call.fields)
        lines.append(describe_call(call.call, shape.args, shape.kwargs))
        lines += [f"# the client sent: {seen.curl(url)}  -> {seen.outcome()}" for seen in call.sent]
        return "\n".join(lines)
