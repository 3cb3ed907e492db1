"""The AceDataCloud error envelope, and its codes: the contract's (``error.json``),
registered with the engine on import, so that an `ApiError` can be raised from then on."""

from __future__ import annotations

import uuid
from typing import Any

from contract_tests.contract import error_codes

from ..engine.errors import register_error_codes


def error_body(
    code: str, message: str, trace_id: str | None = None, task_id: str | None = None
) -> dict[str, Any]:
    """``{"success": false, "error": {"code", "message"}, "trace_id"[, "task_id"]}``, in
    that order: a fresh trace id unless the task has its own."""
    body: dict[str, Any] = {
        "success": False,
        "error": {"code": code, "message": message},
        "trace_id": trace_id or str(uuid.uuid4()),
    }
    if task_id is not None:
        body["task_id"] = task_id
    return body


CODES = error_codes("acedata/error")  # this API's codes, its default messages in its own words
register_error_codes(CODES, error_body)
