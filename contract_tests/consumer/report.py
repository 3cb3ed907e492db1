"""What the consumer suite found: per case (`CaseResult`) and for the run
(`ConsumerReport`: a table per check, the failures with their reproductions, the
warnings)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..checks import CheckFailure
from ..checks.client import CHECKS_BY_EXPECTATION, CONSUMER_CHECKS, SHARED_CHECKS

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
