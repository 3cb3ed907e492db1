"""What the consumer suite found: per case (`CaseResult`) and for the run
(`ConsumerReport`: a table per check, the contract's breaks with their reproductions,
the billing risks apart from them, the warnings).

A *billing risk* (`checks.client_calls.BillingRisk`) is a call that may have paid twice
because it retried blind after an answer it never got. By default it fails the run like
a break of the contract (``billing_risk="fail"``: money is at stake); ``"warn"`` reports
it in its own section and lets the run pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..checks import CheckFailure
from ..checks.client_calls import BillingRisk

BILLING_RISK = ("fail", "warn")  # what a billing risk does to the run


@dataclass
class CaseResult:
    """How one case went: examples played, checks that applied, the failures found
    (billing risks among them when they fail the run), and the billing risks."""

    name: str
    kind: str  # flow, error or fault
    examples: int = 0
    ran: set[str] = field(default_factory=set)  # checks that ran
    failures: list[CheckFailure] = field(default_factory=list)  # of the reported example
    risks: list[CheckFailure] = field(default_factory=list)
    skipped: str = ""  # why the case did not run

    @property
    def ok(self) -> bool:
        return not self.failures

    def weigh(self, billing_risk: str) -> None:
        """Set the billing risks apart, and keep them among the failures only if they
        fail the run."""
        self.risks = [f for f in self.failures if isinstance(f, BillingRisk)]
        if billing_risk == "warn":
            self.failures = [f for f in self.failures if not isinstance(f, BillingRisk)]


@dataclass
class ConsumerReport:
    """What the suite found: per case, per check, the failures, the billing risks and
    the warnings. ``checks``: the dialect's client checks, in the table's order."""

    target: str
    profile: str
    results: list[CaseResult]
    warnings: list[str]
    checks: tuple[str, ...] = ()
    title: str = "consumer suite"
    billing_risk: str = "fail"

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failures(self) -> list[CheckFailure]:
        return [f for r in self.results for f in r.failures]

    @property
    def risks(self) -> list[CheckFailure]:
        return [f for r in self.results for f in r.risks]

    def failed_checks(self) -> set[str]:
        return {f.check for f in self.failures}

    def tally(self) -> dict[str, tuple[int, int, int]]:
        """check → (cases passed, cases failed, cases skipped). A case skipped (its
        adapter method missing) counts as skipped for the checks that cases of its
        kind ran."""
        counts = {name: [0, 0, 0] for name in self.checks}
        by_kind: dict[str, set[str]] = {}
        for result in self.results:
            by_kind.setdefault(result.kind, set()).update(result.ran)
        for result in self.results:
            failed = {f.check for f in result.failures}
            for name in result.ran:
                counts.setdefault(name, [0, 0, 0])[1 if name in failed else 0] += 1
            if result.skipped:
                for name in by_kind.get(result.kind, ()):
                    counts[name][2] += 1
        return {name: (p, f, s) for name, (p, f, s) in counts.items()}

    def table(self) -> str:
        width = max((len(n) for n in self.tally()), default=5) + 2
        lines = [f"{'check':<{width}}{'passed':>8}{'failed':>8}{'skipped':>9}"]
        for name, (passed, failed, skipped) in self.tally().items():
            lines.append(f"{name:<{width}}{passed:>8}{failed:>8}{skipped:>9}")
        return "\n".join(lines)

    def render(self) -> str:
        examples = sum(r.examples for r in self.results)
        ran = sum(1 for r in self.results if not r.skipped)
        breaks = [f for f in self.failures if not isinstance(f, BillingRisk)]
        verdict = "all checks hold" if not breaks else f"{len(breaks)} failure(s)"
        if self.risks:
            fails = "fail the run" if self.billing_risk == "fail" else "reported, not failed"
            verdict += f", {len(self.risks)} billing risk(s) ({fails})"
        parts = [
            f"{self.title} against {self.target} (profile {self.profile}): "
            f"{ran} cases, {examples} examples, {verdict}",
            "",
            self.table(),
        ]
        if self.warnings:
            parts += ["", "warnings:", *(f"  - {w}" for w in self.warnings)]
        for result in self.results:
            found = [f for f in result.failures if not isinstance(f, BillingRisk)]
            parts += _shown("FAILED", result.name, found)
        for result in self.results:  # apart, after the breaks
            parts += _shown("BILLING RISK", result.name, result.risks)
        return "\n".join(parts)


def _shown(heading: str, case: str, found: list[CheckFailure]) -> list[str]:
    """The first failure of a case (the calls it made in its reproduction), and the
    titles of the others."""
    if not found:
        return []
    first, *others = found
    parts = ["", f"{heading} {first.check} — {case}", _indent(str(first))]
    parts += [f"  also: [{f.check}] {f.title}" for f in others]
    if first.reproduce:
        parts += ["  reproduce:", _indent(first.reproduce, 4)]
    return parts


def _indent(text: str, by: int = 2) -> str:
    return "\n".join(" " * by + line for line in text.splitlines())
