"""The one registry of checks, and how they run.

A check is a plain function of one exchange — the `Case` that was sent and the `Answer`
that came — registered under a name for the operations it looks at, of the dialects it knows
(every dialect unless it names some; `Case.dialect` says which a case speaks). A
dialect's checks register when its ``answers`` module loads (`dialects.answers_of`),
which `run_checks` asks for before the first case of that dialect:

    @check("batch-count", "retrieve_batch's count equals len(items)", ("tasks",), (NAME,))
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
from .dialects import answers_of
from .exchanges import CALLBACK, WAIT, Answer, Case, CheckFailure, CheckFailures

CheckFunction = Callable[[CheckContext, Case, Answer], "bool | None"]


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    operations: frozenset[str] | None  # None: every operation
    fn: CheckFunction
    dialects: frozenset[str] | None = None  # None: every dialect

    def applies(self, case: Case) -> bool:
        operations, dialects = self.operations, self.dialects
        return (operations is None or case.operation in operations) and (
            dialects is None or case.dialect in dialects
        )


REGISTRY: dict[str, Check] = {}
SKIPPED = False  # what a check returns when the exchange is not its business


def check(
    name: str,
    description: str,
    on: Iterable[str] | None = None,
    dialects: Iterable[str] | None = None,
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check under ``name`` for the operations ``on`` of the ``dialects`` it
    knows (None: every one; a case of another dialect never reaches it). The function raises
    `CheckFailure` (see `fail`) when the contract is broken, and returns `SKIPPED` when
    the exchange is not its business (so the tally counts only real runs)."""

    def register(fn: CheckFunction) -> CheckFunction:
        if name in REGISTRY:
            raise ValueError(f"check {name!r} is registered twice")
        known = None if dialects is None else frozenset(dialects)
        REGISTRY[name] = Check(name, description, _set(on), fn, known)
        return fn

    return register


def run_checks(
    ctx: CheckContext, case: Case, answer: Answer, only: Iterable[str] | None = None
) -> list[CheckFailure]:
    """Run every check that applies to the case's dialect and operation (or those in
    ``only``), collect their failures, then add the exchange to the history."""
    chosen = set(only) if only is not None else None
    failures = []
    answers_of(case.dialect)  # its checks registered before the first of its cases
    for item in list(REGISTRY.values()):
        if not item.applies(case):
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


def _set(names: Iterable[str] | None) -> frozenset[str] | None:
    return None if names is None else frozenset(names)


def checks_of(dialect: str) -> tuple[str, ...]:
    """The names of the checks of one dialect's answers and callbacks and of the end of
    a wait (its own and those of every dialect), in the order they run."""
    looked_at = {*answers_of(dialect).OPERATIONS, CALLBACK, WAIT}
    return tuple(
        name
        for name, item in REGISTRY.items()
        if (item.dialects is None or dialect in item.dialects)
        and (item.operations is None or item.operations & looked_at)
    )


def assert_checks(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    """`run_checks`, raising the failure (or `CheckFailures`) instead of returning it."""
    failures = run_checks(ctx, case, answer)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise CheckFailures(failures)
