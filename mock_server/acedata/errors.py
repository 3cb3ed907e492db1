"""The AceDataCloud error envelope."""

from __future__ import annotations

import uuid
from typing import Any


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
