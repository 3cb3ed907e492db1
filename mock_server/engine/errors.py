"""The error envelope, with codes, statuses and default messages read from the contract."""

from __future__ import annotations

import uuid
from typing import Any

from contract_tests.contract import error_codes


class ApiError(Exception):
    """An answer in the documented error envelope. Raised anywhere in the engine; the
    HTTP layer renders it with the code's status."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        known = error_codes()
        if code not in known:
            raise ValueError(f"{code!r} is not a documented error code")
        self.code = code
        self.status = known[code].status
        self.message = message or known[code].message
        self.headers = headers or {}
        super().__init__(f"{code}: {self.message}")

    def envelope(self, trace_id: str | None = None, task_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "success": False,
            "error": {"code": self.code, "message": self.message},
            "trace_id": trace_id or str(uuid.uuid4()),
        }
        if task_id is not None:
            body["task_id"] = task_id
        return body
