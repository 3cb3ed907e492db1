"""The provider suite's phases as Hypothesis properties. A `Plan` is one property: a
strategy, what to do with each example, and how many. `cheap_plans` cost nothing to
send — missing, malformed and wrong tokens, every contract rule broken one at a time,
malformed bodies, unknown ids; `billable_plans` spread the budget over every request
shape in every mode (`SHAPES`), keeping a sixth for the state machine.

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

from ..checks import Case, CheckFailure, CheckFailures
from ..contract import strategies as S
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
        case = Case("tasks", body, label="unknown-id")
        case.expect_status = 404 if case.action == "retrieve" else 200
        provider.exchange(case)

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
