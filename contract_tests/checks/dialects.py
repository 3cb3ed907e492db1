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

    Loading it registers the dialect's own checks (``@check(..., dialects=(NAME,))``);
    the checks every dialect shares (`checks.answers`) ask it the rest:

    ``OPERATIONS``: the operations of its cases whose answers come from the API.
    ``STATES``: each state a record can show, by rank — a record never goes to a lower
    rank, and the highest rank is the end (``completed``, ``failed``). ``state_of``: the
    state a record shows. ``records_in``: the records (each with an ``id``) an answer
    shows. ``allowed_statuses``: the statuses the contract allows for a case with a
    valid token (``case.valid`` False: a body breaking a rule). ``schema_for``: the
    registered name of the schema an answer's body must match (None: not checked).
    ``reason``: an error answer's reason in the dialect's words (its code, its detail;
    None when it has none). ``INVALID`` and ``UNAUTHORIZED``: the reason a refusal of a
    broken body (400) and of a token (401) must give, or None for any; ``REASON`` names
    the error's shape for a failure's "expected" (``{detail}``). ``observe``: add one
    exchange to the run's history (called after the checks have seen it): the records
    it shows, by id (`TaskHistory.add`), the ended results with where they came from,
    the ids deleted.
    """

    OPERATIONS: tuple[str, ...]
    STATES: Mapping[str, int]
    INVALID: str | None
    UNAUTHORIZED: str | None
    REASON: str

    def state_of(self, record: Mapping[str, Any]) -> str: ...

    def records_in(self, case: Case, answer: Answer) -> list[dict[str, Any]]: ...

    def allowed_statuses(self, case: Case) -> set[int]: ...

    def schema_for(self, case: Case, answer: Answer) -> str | None: ...

    def reason(self, answer: Answer) -> str | None: ...

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
