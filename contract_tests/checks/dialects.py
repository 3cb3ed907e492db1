"""What the checks ask of a dialect, through the registry of packs: its ``answers``
module (`Answers`), which registers the dialect's checks as it loads and says how its
records read. Generic code never names a dialect: it asks `answers_of` with the
`Case.dialect` of what it holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, cast

from ..contract.packs import pack

if TYPE_CHECKING:
    from .context import TaskHistory
    from .exchanges import Answer, Case


class Answers(Protocol):
    """A dialect's ``answers`` module (``contract_tests.<dialect>.answers``, or the
    ``answers`` of its pack's ``suite`` package).

    Loading it registers the dialect's checks (``@check(..., dialects=(NAME,))``).
    ``OPERATIONS``: the operations of its cases whose answers come from the API (they
    must be JSON). ``STATES``: each state a record can show, by rank — a record never
    goes to a lower rank, and the highest rank is the end (``completed``, ``failed``).
    ``state_of``: the state a record shows. ``observe``: add one exchange to the run's
    history (called after the checks have seen it): the records it shows, by id, and the
    ended results with where they came from.
    """

    OPERATIONS: tuple[str, ...]
    STATES: Mapping[str, int]

    def state_of(self, record: Mapping[str, Any]) -> str: ...

    def observe(self, history: TaskHistory, case: Case, answer: Answer) -> None: ...


@cache
def answers_of(dialect: str) -> Answers:
    """The ``answers`` module of the dialect called ``dialect``, loaded (its checks
    registered) on first use."""
    return cast("Answers", pack(dialect).load("answers"))


def state_of(dialect: str, record: Mapping[str, Any]) -> str:
    return answers_of(dialect).state_of(record)


def ended(dialect: str, state: str) -> bool:
    """Whether ``state`` is an end of a task of ``dialect`` (the highest rank)."""
    states = answers_of(dialect).STATES
    return state in states and states[state] == max(states.values())
