"""The one registry of checks, and how they run.

A check is a plain function of one exchange — the `Case` that was sent and the `Answer`
that came — registered under a name for the operations it looks at, of the dialects it knows
(``acedata`` unless it says otherwise; `Case.dialect` says which a case speaks):

    @check("batch-count", "retrieve_batch's count equals len(items)", on=("tasks",))
    def batch_count(ctx: CheckContext, case: Case, answer: Answer) -> bool | None: ...

    failures = run_checks(ctx, case, answer)  # every applicable check, all failures

It raises `CheckFailure` (via `fail`) when the contract does not hold, and returns
`SKIPPED` when the exchange is not its business, so the tally in `CheckContext.runs`
counts real runs only. `REGISTRY` keeps the checks in the order they registered, which
is the order they run in and the order of every report's table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .context import CheckContext
from .exchanges import Answer, Case, CheckFailure, CheckFailures

CheckFunction = Callable[[CheckContext, Case, Answer], "bool | None"]


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    operations: frozenset[str]
    fn: CheckFunction
    dialects: frozenset[str] = frozenset({"acedata"})


REGISTRY: dict[str, Check] = {}
SKIPPED = False  # what a check returns when the exchange is not its business


def check(
    name: str,
    description: str,
    on: Iterable[str] = ("videos", "tasks"),
    dialects: Iterable[str] = ("acedata",),
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check under ``name`` for the operations ``on`` of the ``dialects`` it
    knows (a case of another dialect never reaches it). The function raises
    `CheckFailure` (see `fail`) when the contract is broken, and returns `SKIPPED` when
    the exchange is not its business (so the tally counts only real runs)."""

    def register(fn: CheckFunction) -> CheckFunction:
        if name in REGISTRY:
            raise ValueError(f"check {name!r} is registered twice")
        REGISTRY[name] = Check(name, description, frozenset(on), fn, frozenset(dialects))
        return fn

    return register


def run_checks(
    ctx: CheckContext, case: Case, answer: Answer, only: Iterable[str] | None = None
) -> list[CheckFailure]:
    """Run every check that applies to the case's dialect and operation (or those in
    ``only``), collect their failures, then add the exchange to the history."""
    chosen = set(only) if only is not None else None
    failures = []
    for item in REGISTRY.values():
        if case.operation not in item.operations or case.dialect not in item.dialects:
            continue
        if chosen and item.name not in chosen:
            continue
        try:
            if item.fn(ctx, case, answer) is not SKIPPED:
                ctx.runs[item.name] += 1
        except CheckFailure as failure:
            ctx.runs[item.name] += 1
            failure.check, failure.case, failure.answer = item.name, case, answer
            ctx.failures[item.name] += 1
            failures.append(failure)
    ctx.history.observe(case, answer)
    return failures


def assert_checks(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    """`run_checks`, raising the failure (or `CheckFailures`) instead of returning it."""
    failures = run_checks(ctx, case, answer)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise CheckFailures(failures)
