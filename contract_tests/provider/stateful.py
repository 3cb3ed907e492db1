"""The stateful part of the provider suite: a Hypothesis state machine whose rules are
the dialect's (its ``provider`` module's ``MACHINE``, a `ProviderMachine`): making tasks,
reading them, and — where the target's clock can be moved — advancing time or finishing
tasks by hand.

There are no separate invariants to write: every answer goes through the same checks
as the rest of the suite, and those read the run's history, so "states only move
forward", "timestamps never change once set" and "a retrieved result equals the earlier
answer" are checked after every step, across steps.

Billable steps cost money, so the machine is never shrunk or replayed: a failure is
kept (with the seed) and the run goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from .plans import _keep

if TYPE_CHECKING:
    from .runner import Provider

STEPS = 20  # steps per machine run
INDEX = st.integers(0, 10**6)  # picks one of the tasks or videos known when the step runs


class ProviderMachine(RuleBasedStateMachine):
    """What every dialect's machine shares: the ids it may act on (the run's earlier ones,
    then its own), a step's bookkeeping (`_after`, which each rule ends with), the choice
    of an id (`_pick`), and the rules about time: moving a manual clock, and finishing a
    task by hand on a real one. Set ``provider`` on a subclass before running it."""

    provider: Provider
    provider_seed: int | None = None

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    @initialize()
    def known(self) -> None:
        # What the earlier phases made is fair game: its history is already checked.
        self.ids = list(self.provider.ctx.history.records)

    def _after(self) -> None:
        seed = self.provider_seed
        _keep(self.provider, self.provider.current, f"rerun with --seed {seed}" if seed else "")
        self.provider.current = []
        progress = self.provider.progress
        if progress.done < progress.planned:
            progress.step("stateful")

    def _pick(self, index: int) -> str:
        # mostly the newest (the machine's own, still moving), sometimes any
        recent = self.ids[-4:] if index % 4 else self.ids
        return recent[index % len(recent)]

    @precondition(lambda self: self.provider.manual_clock)
    @rule(seconds=st.sampled_from((0.5, 1.0, 2.0, 5.0, 30.0, 61.0, 120.0)))
    def advance(self, seconds: float) -> None:
        self.provider.advance(seconds)
        self._after()


def machine_for(
    provider: Provider, seed: int | None = None, rules: type[ProviderMachine] | None = None
) -> type[ProviderMachine]:
    """A machine (the provider's dialect's unless told) bound to one provider run."""
    rules = rules or provider.api.MACHINE
    name = f"{rules.__name__}Run"
    return type(name, (rules,), {"provider": provider, "provider_seed": seed})


def run_machine(
    provider: Provider,
    base: settings,
    examples: int,
    seed: int | None,
    rules: type[ProviderMachine] | None = None,
) -> None:
    """Run the machine ``max(2, examples // 20)`` times of `STEPS` steps each."""
    provider.phase = "stateful"
    runs = max(2, examples // 20)
    progress = provider.progress
    progress.planned += runs * STEPS
    done_after = progress.done + runs * STEPS
    chosen = settings(
        base,
        max_examples=runs,
        stateful_step_count=STEPS,
        phases=[Phase.explicit, Phase.generate],
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    machine: Any = machine_for(provider, seed, rules)
    if seed is not None and not base.derandomize:
        machine = hypothesis_seed(seed)(machine)
    run_state_machine_as_test(machine, settings=chosen)
    progress.done = max(progress.done, done_after)  # runs may end early
