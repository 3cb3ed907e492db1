"""What the validating proxy says of an AceData exchange: which schema a request and
its answer must match, and the documented error envelope it answers with itself."""

from __future__ import annotations

import uuid
from typing import Any

from ..consumer.verdicts import BodyVerdict, check_answer, check_body
from ..contract import schema as contract
from . import PACK

API_PATHS = ("/luma/videos", "/luma/tasks")


def request_verdict(method: str, path: str, body: Any) -> BodyVerdict:
    if method != "POST" or path not in API_PATHS:
        return BodyVerdict()
    return check_body(PACK.schema(f"{path.rsplit('/', 1)[1]}-request"), body)


def answer_schema(path: str, request: Any, status: int) -> str | None:
    """The schema an answer must satisfy, from the endpoint, the request and the status."""
    if path not in API_PATHS:
        return None
    if status >= 400:
        return PACK.error
    if not 200 <= status < 300:
        return None
    body = contract.given(request) if isinstance(request, dict) else {}
    if path == "/luma/videos":
        immediate = body.get("callback_url") or body.get("async") is True
        return PACK.schema("videos-accepted" if immediate else "videos-result")
    return PACK.schema("tasks-batch" if body.get("action") == "retrieve_batch" else "task-record")


def answer_verdict(
    method: str, path: str, request: Any, status: int, answer: Any, is_json: bool, raw: bytes
) -> BodyVerdict:
    schema = answer_schema(path, request, status)
    verdict = check_answer(schema, answer, is_json)
    if schema == PACK.error and is_json and verdict.ok:
        code = answer["error"]["code"]
        documented = contract.error_codes(PACK.error)[code].status
        if documented != status:
            verdict.problems.append(f"{code} is documented with status {documented}, not {status}")
    return verdict


def error_body(code: str, message: str) -> dict[str, Any]:
    """The documented error envelope."""
    return {
        "success": False,
        "error": {"code": code, "message": message},
        "trace_id": str(uuid.uuid4()),
    }
