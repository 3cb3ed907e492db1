"""How the Dream Machine dialect's records read (`checks.Answers`, re-exported by
`answers`): its operations and states, the state a Generation shows, the Generations in
an answer, and what an exchange adds to the run's history. The checks (`answers`,
`generations`, `media`) read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..checks import Answer, Case, TaskHistory, fail
from . import PACK

DM = (PACK.name,)
ANSWERS = OPERATIONS = ("create", "get", "list", "delete", "derive", "ping", "credits")
STATES = {"queued": 0, "dreaming": 1, "completed": 2, "failed": 2}
ENDED = ("completed", "failed")
SET_ONCE = ("id", "created_at", "model", "generation_type")
# The statuses the SDKs raise a named exception for (BadRequestError … InternalServerError);
# any other 4xx is a bare APIStatusError a client cannot tell apart.
SDK_STATUSES = frozenset({400, 401, 403, 404, 409, 422, 429})


def state_of(generation: Mapping[str, Any]) -> str:
    """The state a Generation shows."""
    return str(generation.get("state", "queued"))


def observe(history: TaskHistory, case: Case, answer: Answer) -> None:
    """A Generation from a create, a get, an upscale or audio, or each of a list page,
    is one record of its id; a 204 to a delete marks the id deleted. Callbacks are not
    records: they arrive when the receiver is read, possibly after a later get (the
    checks of callbacks read them apart)."""
    if case.operation == "delete" and answer.status == 204 and case.task_id:
        history.deleted.add(case.task_id)
        return
    if case.operation == "callback" or not 200 <= answer.status < 300:
        return
    for generation in _generations(case, answer):
        history.add(generation["id"], generation)
        if generation.get("state") in ENDED:
            history.remember_result(generation["id"], f"an earlier {case.operation}", generation)


def _fail(title: str, expected: Any = "", actual: Any = "") -> None:
    """`fail`, taking what was expected and what came in order."""
    fail(title, expected=expected, actual=actual)


def _detail(answer: Answer) -> str | None:
    body = answer.json_or_none()
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str) else None


def _came(answer: Answer) -> str:
    return f"{answer.status} {_detail(answer) or answer.text[:200]}"


def _generation(case: Case, answer: Answer) -> dict[str, Any] | None:
    if case.operation not in ("create", "get", "derive", "callback"):
        return None
    if case.operation != "callback" and not 200 <= answer.status < 300:
        return None
    body = answer.json_or_none()
    return body if isinstance(body, dict) and isinstance(body.get("id"), str) else None


def _generations(case: Case, answer: Answer) -> list[dict[str, Any]]:
    if case.operation == "list" and answer.status == 200:
        body = answer.json_or_none()
        found = body.get("generations") if isinstance(body, dict) else None
        if isinstance(found, list):
            return [g for g in found if isinstance(g, dict) and isinstance(g.get("id"), str)]
        return []
    one = _generation(case, answer)
    return [one] if one is not None and case.operation != "callback" else []


reason = _detail  # an error answer's reason: its ``detail``
INVALID = UNAUTHORIZED = None  # any detail says why a body or a token was refused
REASON = "{detail}"
records_in = _generations  # the Generations an answer shows
