"""What the provider suite asks of a dialect: its pack's ``provider`` module
(``contract_tests.<dialect>.provider``), found through the registry (`provider_of`).
Nothing in this package names a dialect; everything one API needs to be verified —
its phases, its state machine, how to read a task, what it could bill — comes from
that module, which satisfies `ProviderDialect`.

A new dialect's module, in short (the AceData and Dream Machine ones are complete
examples)::

    MACHINE = MyMachine                # a `stateful.ProviderMachine` subclass of rules

    def reach(transport): ...          # one cheap call: status 0 when nothing answers
    def prepare(provider): ...         # probes after the control API's; memory per run
    def cheap_plans(provider, n): ...  # `Plan`s that cost nothing (auth, invalid, reads)
    def billable_plans(provider, n, image_url): ...   # the budget spread over its flows
    def read_case(task_id): ...        # the case that reads one task (a poll): 200
    def could_bill(case): ...          # an invalid body a lenient server might still bill

The checks of its answers are its ``answers`` module's (`checks.dialects.Answers`).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Protocol, cast

from ..contract.packs import pack

if TYPE_CHECKING:
    from ..checks import Answer, Case
    from .plans import Plan
    from .runner import Provider
    from .stateful import ProviderMachine
    from .targets import Transport


class ProviderDialect(Protocol):
    """A dialect's ``provider`` module (see the module's docstring).

    ``MACHINE``: the stateful rules, run `STEPS` steps at a time after the phases.
    ``reach``: one request any server of the dialect answers without cost, sent before
    anything else so that an unreachable target exits at once (status 0).
    ``prepare``: runs after the control API's probe and before the plans are made: what
    the target serves, and the dialect's memory for the run (``provider.memory``).
    ``cheap_plans`` and ``billable_plans``: the phases (`Plan`), in the order they run;
    billable plans spend at most ``provider.budget.left`` minus `stateful_reserve`.
    ``read_case``: the case that reads a task by id, which the waits poll (`settle`).
    ``could_bill``: of the invalid cases to a billable path (`Pack.billable`), which a
    lenient server could still accept and bill — not sent to a target without the
    control API (it may be the real service).
    """

    MACHINE: type[ProviderMachine]

    def reach(self, transport: Transport) -> Answer: ...

    def prepare(self, provider: Provider) -> None: ...

    def cheap_plans(self, provider: Provider, n: int) -> list[Plan]: ...

    def billable_plans(self, provider: Provider, n: int, image_url: str | None) -> list[Plan]: ...

    def read_case(self, task_id: str) -> Case: ...

    def could_bill(self, case: Case) -> bool: ...


@cache
def provider_of(dialect: str) -> ProviderDialect:
    """The ``provider`` module of the dialect called ``dialect``."""
    return cast("ProviderDialect", pack(dialect).load("provider"))
