"""How the AceDataCloud dialect's records read (`checks.Answers`, re-exported by
`answers`): its operations and states, the state of a task record, the records in an
answer, the mode and action a body asks for, and what an exchange adds to the run's
history. The checks (`answers`, `tasks`, `media`) and the provider's flows read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..checks import Answer, Case, TaskHistory, fail
from ..contract.schema import given
from . import PACK

NAME = PACK.name
OPERATIONS = ("videos", "tasks")
STATES = {"pending": 0, "processing": 1, "completed": 2, "failed": 2}
SET_ONCE = ("created_at", "started_at", "finished_at", "elapsed")
ENDED = ("completed", "failed")


def luma_case(operation: str, body: Any = None, **more: Any) -> Case:
    """A case of this dialect: ``POST /luma/<operation>`` unless told otherwise."""
    more.setdefault("path", f"/luma/{operation}" if operation in OPERATIONS else "")
    return Case(operation, body, dialect=NAME, **more)


def mode(case: Case) -> str:
    """``sync``, ``callback`` or ``async``, as the body asks (videos only)."""
    body = given(case.body) if isinstance(case.body, dict) else {}
    if body.get("callback_url"):
        return "callback"
    return "async" if body.get("async") is True else "sync"


def action(case: Case) -> str | None:
    body = given(case.body) if isinstance(case.body, dict) else {}
    default = "generate" if case.operation == "videos" else "retrieve"
    return body.get("action", default)


# -- its records ---------------------------------------------------------------------


def state_of(record: Mapping[str, Any]) -> str:
    """The state a task record shows: its response's ``state``, ``failed`` for an
    error envelope, ``pending`` with no response yet."""
    response = record.get("response")
    if not isinstance(response, Mapping):
        return "pending"
    if response.get("success") is False or "error" in response:
        return "failed"
    return str(response.get("state", "pending"))


def task_records(case: Case, body: Any) -> list[dict[str, Any]]:
    """The task records in a /luma/tasks answer (one, or a batch's items)."""
    if not isinstance(body, dict):
        return []
    if action(case) == "retrieve_batch":
        items = body.get("items")
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    return [body] if "id" in body else []


def records_in(case: Case, answer: Answer) -> list[dict[str, Any]]:
    """The task records a 200 answer of /luma/tasks shows."""
    if case.operation != "tasks" or answer.status != 200:
        return []
    return task_records(case, answer.json_or_none())


def observe(history: TaskHistory, case: Case, answer: Answer) -> None:
    """A synchronous result and a callback are results of their task; each record of a
    /luma/tasks answer is one more record of its task (its response a result once the
    task has ended)."""
    body = answer.json_or_none()
    if not isinstance(body, dict):
        return
    if case.operation == "videos" and answer.status == 200 and body.get("success") is True:
        history.remember_result(str(body.get("task_id")), "the synchronous answer", body)
    elif case.operation == "callback" and case.task_id:
        history.remember_result(case.task_id, "the callback", body)
    elif case.operation == "tasks" and answer.status == 200:
        for record in task_records(case, body):
            task_id = str(record.get("id"))
            history.add(task_id, record)
            response = record.get("response")
            if state_of(record) in ENDED and isinstance(response, dict):
                history.remember_result(task_id, "an earlier retrieve", response)


def _json_body(answer: Answer) -> Any:
    try:
        return answer.json()
    except ValueError as bad:
        fail("the body is not JSON", expected="a JSON document", actual=f"{bad}: {answer.text!r}")
