"""Running the consumer suite against the fake, for any dialect: each of the dialect's
cases under Hypothesis, with the profile's example budget, a failure shrunk to a small
request, and the report."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Flaky, HypothesisException

from ..checks import CheckFailure, CheckFailures
from ..contract import profiles
from ..contract.packs import default_pack, pack
from .adapters import close_adapter
from .dialect import AdapterFactory, ConsumerCase, client_of, consumer_of
from .fake import ControlError, FakeControl, LiveFake
from .report import BILLING_RISK, CaseResult, ConsumerReport
from .run import ClientRun

TOKEN = "luma-mock-consumer"
# What the fake the suite starts charges per paid call (USDC) in the x402 situations: not
# the gateway's default, so a client that assumes a price is found out.
X402_PRICE = "0.37"

# Examples per case, by profile and kind of case. Errors and faults do not depend on
# the request much, so one is enough for CI; flows explore the request space.
EXAMPLES = {
    "ci": {"flow": 3, "error": 1, "fault": 1},
    "dev": {"flow": 10, "error": 2, "fault": 1},
    "thorough": {"flow": 50, "error": 5, "fault": 2},
}


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


def run_case(
    run: ClientRun, case: ConsumerCase, profile: str, billing_risk: str = "fail"
) -> CaseResult:
    """Run one case under Hypothesis. Each distinct request is played once and its
    outcome remembered: a replay (Hypothesis replays the failure it reports) costs
    nothing, and a client that fails only sometimes is not called flaky for it. A flow
    shrinks its failure for `SHRINK_BUDGET` new requests, then takes the smallest found;
    errors and faults keep the first failure and do not look further."""
    result = CaseResult(case.name, case.kind)
    if case.operation not in run.operations:
        result.skipped = f"the adapter has no {case.operation}()"
        return result
    if case.x402 and run.pays is None:
        result.skipped = run.cannot_pay or "x402 is off"
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
    result.weigh(billing_risk)
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


def takes_payer(factory: AdapterFactory) -> bool:
    """Whether ``factory`` takes a ``payer`` keyword (or any keyword)."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "payer" or p.kind is p.VAR_KEYWORD for p in parameters)


def _paid_call(dialect: str) -> tuple[str, str]:
    """A call of the dialect's that a gateway asks to be paid: method and full path."""
    method, _, template = pack(dialect).billable[0].partition(" ")
    return method, pack(dialect).path_prefix + template


@contextmanager
def _fake(
    fake_url: str | None, control_token: str | None, x402: bool = False
) -> Iterator[FakeControl]:
    gateway = ("--x402", "--x402-price", X402_PRICE) if x402 else ()
    live = LiveFake(*gateway) if fake_url is None else None
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
    dialect: str | None = None,
    profile: str = "ci",
    fake_url: str | None = None,
    control_token: str | None = None,
    token: str = TOKEN,
    client_timeout: float = 10.0,
    call_timeout: float = 60.0,
    billing_risk: str = "fail",
    only: Callable[[ConsumerCase], bool] | None = None,
    progress: Callable[[CaseResult], None] | None = None,
    x402: bool = False,
    x402_network: str = "base",
) -> ConsumerReport:
    """Run the consumer suite of ``dialect`` (by default the one served at the root,
    `contract.packs.default_pack`) on the client that ``factory(base_url, token)``
    adapts (``base_url``: the fake's, with the dialect's path prefix).

    ``fake_url``: a running fake (with its control API) instead of starting one.
    ``client_timeout``: how long the client takes to give up on a quick call, retries
    included; a hung answer must make it raise within that (plus some grace).
    ``call_timeout``: how long any call may take before the suite stops waiting.
    ``billing_risk``: ``fail`` (a blind retry that may pay twice fails the run) or
    ``warn`` (it is reported apart, and the run may pass).
    ``x402``: the situations of a client that pays per call too, on a fake that plays
    the gateway (``serve --x402``, started so; a running one must be): the factory is
    called ``factory(base_url, "", payer=payer)`` with a fresh payer
    (`contract_tests.payments.Payer`) on ``x402_network`` (``base`` or ``skale``).
    """
    from mock_server.harness.receiver import CallbackReceiver

    if billing_risk not in BILLING_RISK:
        raise ValueError(f"billing_risk is {' or '.join(BILLING_RISK)}, not {billing_risk!r}")
    dialect = dialect or default_pack().name
    speaks = consumer_of(dialect)
    with ExitStack() as stack:
        fake = stack.enter_context(_fake(fake_url, control_token, x402))
        receiver = stack.enter_context(CallbackReceiver())
        base_url = fake.url + pack(dialect).path_prefix
        adapter = factory(base_url, token)
        pays, cannot_pay = None, ""
        if x402 and not takes_payer(factory):
            cannot_pay = "the adapter factory takes no payer: factory(base_url, token, payer=None)"
        elif x402 and not fake.is_gateway(*_paid_call(dialect)):
            cannot_pay = f"the fake at {fake.url} does not play the gateway (serve --x402)"
        elif x402:
            pays = lambda payer: factory(base_url, "", payer=payer)  # noqa: E731
        run = ClientRun(
            adapter,
            fake,
            dialect=dialect,
            token=token,
            client_timeout=client_timeout,
            call_timeout=call_timeout,
            callback_url=receiver.url,
            pays=pays,
            network=x402_network,
        )
        run.cannot_pay = cannot_pay
        results = []
        try:
            if pays is not None:
                run.open_paying()
            for case in speaks.cases():
                if (only is not None and not only(case)) or (case.x402 and not x402):
                    continue
                result = run_case(run, case, profile, billing_risk)
                results.append(result)
                if progress is not None:
                    progress(result)
        finally:
            run.wait_for_stragglers()
            close_adapter(adapter)
            run.close_paying()
        return ConsumerReport(
            fake.url,
            profile,
            results,
            list(run.warnings),
            checks=run.checks if x402 else client_of(dialect).CHECKS,
            title=f"{pack(dialect).title}: consumer suite",
            billing_risk=billing_risk,
        )
