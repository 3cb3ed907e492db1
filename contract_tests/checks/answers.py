"""The checks every dialect's answers share: an answer of the API is JSON
(``content-type-json``), whatever the dialect's operations (its ``answers`` module's
``OPERATIONS``) — the rest of a dialect's checks are its own
(``contract_tests.<dialect>.answers``).
"""

from __future__ import annotations

from .context import CheckContext
from .dialects import answers_of
from .exchanges import Answer, Case, fail
from .registry import SKIPPED, check


@check("content-type-json", "answers of the API are JSON (content-type application/json)")
def content_type_json(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    if case.operation not in answers_of(case.dialect).OPERATIONS:
        return SKIPPED  # a callback, the end of a wait, a client's call: not an answer
    if answer.status == 204:
        return SKIPPED  # no content (a delete): the dialect's schema check says it is empty
    kind = answer.content_type
    if kind != "application/json" and not kind.endswith("+json"):
        fail("the answer is not JSON", expected="application/json", actual=kind or "none")
