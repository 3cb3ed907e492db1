"""What a verification ends with and what bounds it: the `Verification` that `verify`
returns and `report` renders, the billable `Budget` and the `BudgetSpent` that stops an
example at its cap.

Plain data with nothing to import but the standard library, so that the progress line,
the report, the phases and the state machine can all name them without importing the
runner or the suite (no module of the provider imports one that imports it back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..checks import CheckFailure


@dataclass
class Budget:
    """The cap on billable requests, counted before each is sent."""

    cap: int
    spent: int = 0

    def take(self) -> bool:
        if self.spent >= self.cap:
            return False
        self.spent += 1
        return True

    @property
    def left(self) -> int:
        return self.cap - self.spent


class BudgetSpent(Exception):
    """A billable request was not sent: the cap is reached."""


@dataclass
class Verification:
    """The outcome of a run: the failures (one per check and case label), how often
    each check ran, billable spent of cap, and what could not be checked."""

    target: str
    failures: list[CheckFailure] = field(default_factory=list)
    runs: dict[str, int] = field(default_factory=dict)
    spent: int = 0
    cap: int = 0
    exchanges: int = 0
    examples: int = 0
    seconds: float = 0.0
    seed: int | None = None
    profile: str = "ci"
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures
