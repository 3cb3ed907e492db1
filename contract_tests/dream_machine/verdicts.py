"""What the validating proxy says of a Dream Machine exchange: which schema a request
and its answer must match, and the error body it answers with itself."""

from __future__ import annotations

from typing import Any

from ..consumer.verdicts import BodyVerdict, check_answer, check_body
from . import PACK
from .records import SDK_STATUSES

REQUESTS = {
    "/generations": PACK.schema("video-request"),  # the create path before SDK 1.12
    "/generations/video": PACK.schema("video-request"),
    "/generations/image": PACK.schema("image-request"),
}
READS = {"/ping": PACK.schema("ping"), "/credits": PACK.schema("credits")}


def request_verdict(method: str, path: str, body: Any) -> BodyVerdict:
    schema = REQUESTS.get(PACK.route(path)) if method == "POST" else None
    return BodyVerdict() if schema is None else check_body(schema, body)


def answer_schema(method: str, path: str, status: int) -> str | None:
    """The schema of an answer, from the endpoint and the status."""
    parts = PACK.route(path).strip("/").split("/")
    known = parts[0] in ("generations", "ping", "credits")
    if status >= 400:
        return PACK.error if known else None
    if not 200 <= status < 300 or status == 204:
        return None
    if parts[0] != "generations":
        return READS.get("/" + "/".join(parts))
    if parts == ["generations"]:
        return PACK.schema("list" if method == "GET" else "generation")
    if parts[1] in ("concepts", "camera_motion"):
        return None
    return PACK.schema("generation")  # a create, a get, an upscale, an audio


def answer_verdict(
    method: str, path: str, request: Any, status: int, answer: Any, is_json: bool, raw: bytes
) -> BodyVerdict:
    if status == 204:
        problems = [f"a 204 with a body: {raw[:80]!r}"] if raw.strip() else []
        return BodyVerdict("no content", problems)
    schema = answer_schema(method, path, status)
    verdict = check_answer(schema, answer, is_json)
    if schema is not None and is_json and 400 <= status < 500 and status not in SDK_STATUSES:
        verdict.problems.append(f"status {status} has no exception of its own in the SDKs")
    return verdict


def error_body(code: str, message: str) -> dict[str, Any]:
    """The Dream Machine error body."""
    return {"detail": message}
