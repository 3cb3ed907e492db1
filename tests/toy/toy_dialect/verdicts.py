"""What the validating proxy says of a toy exchange."""

from __future__ import annotations

from typing import Any

from contract_tests.consumer.verdicts import BodyVerdict, check_answer, check_body

from . import PACK


def request_verdict(method: str, path: str, body: Any) -> BodyVerdict:
    if method == "POST" and PACK.route(path) == "/jobs":
        return check_body(PACK.schema("job-request"), body)
    return BodyVerdict()


def answer_verdict(
    method: str, path: str, request: Any, status: int, answer: Any, is_json: bool, raw: bytes
) -> BodyVerdict:
    if not PACK.route(path).startswith("/jobs"):
        return BodyVerdict()
    schema = PACK.error if status >= 400 else PACK.schema("job") if status < 300 else None
    return check_answer(schema, answer, is_json)


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"oops": message}
