"""The provider suite's phases as Hypothesis properties. A `Plan` is one property: a
strategy, what to do with each example, and how many. Each dialect makes its own (its
``provider`` module's ``cheap_plans`` and ``billable_plans``): cheap ones cost nothing
to send — missing, malformed and wrong tokens, every contract rule broken one at a
time, malformed bodies, unknown ids; billable ones share the budget out over the
dialect's flows (`shared_out`), keeping a sixth for the state machine
(`stateful_reserve`).

`_run_plan` runs one plan: cheap failures go back into Hypothesis, which shrinks them and
says how to reproduce them; billable ones are kept as they are and stop the plan, since
every replay would cost. `_keep` records failures once per check and case label, for
these phases and for `stateful` alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from ..checks import CheckFailure, CheckFailures
from .outcome import BudgetSpent
from .runner import Provider


@dataclass
class Plan:
    """One property of the run: a strategy, what to do with each example, how many."""

    phase: str
    name: str
    strategy: st.SearchStrategy[Any]
    run: Callable[[Any], None]
    examples: int
    billable: bool = False


Flow = tuple[str, st.SearchStrategy[Any], Callable[[Any], None]]  # name, strategy, run


def shared_out(provider: Provider, flows: list[Flow], n: int) -> list[Plan]:
    """Billable plans for ``flows`` (name, strategy, run), the budget left after the
    machine's reserve shared out in order (the first flows get one more), at most ``n``
    examples each; a flow with no share gets no plan."""
    cap = provider.budget.left - stateful_reserve(provider.budget.left)
    plans = []
    for index, (name, strategy, run) in enumerate(flows):
        count = min(n, cap // len(flows) + (index < cap % len(flows)))
        if count:
            plans.append(Plan("billable", name, strategy, run, count, billable=True))
    return plans


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


# `example` above calls this by name: its source seeds Hypothesis' derandomized (ci)
# runs, so renaming it would change which examples a ci run draws.
def _keep(provider: Provider, found: list[CheckFailure], reproduce: str) -> None:
    known = {(f.check, f.case.label if f.case else "") for f in provider.failures}
    for failure in found:
        key = (failure.check, failure.case.label if failure.case else "")
        if key not in known:
            failure.reproduce = failure.reproduce or reproduce
            provider.failures.append(failure)
            known.add(key)
    provider.progress.failed = len(provider.failures)
