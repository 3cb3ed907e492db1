"""What the contract says of one exchange seen by the validating proxy: the `Exchange`
(request, answer, and a `BodyVerdict` on each side), which schema a request and its
answer must match (`request_verdict`, `answer_schema`, `answer_verdict`), and the
documented error envelope the proxy answers with itself (`envelope`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from ..contract import schema as contract


@dataclass
class BodyVerdict:
    """The contract's word on one body: the schema used (None: not checked), problems,
    and fields the schema does not know (worth a look, not a failure)."""

    schema: str | None = None
    problems: list[str] = field(default_factory=list)
    unknown_fields: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Exchange:
    """One request through the proxy, what came back, and the contract's verdicts."""

    at: float
    method: str
    path: str
    status: int
    request: Any  # the body as JSON, or text when it is not JSON
    answer: Any
    request_verdict: BodyVerdict
    answer_verdict: BodyVerdict
    forwarded: bool = True
    billable: bool = False
    note: str = ""  # capped, or why the target did not answer
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.request_verdict.ok and self.answer_verdict.ok

    def verdict(self) -> str:
        if not self.forwarded:
            return f"capped: {self.note}"
        drift = [
            f"{side} drift ({v.schema}): {'; '.join(v.problems)}"
            for side, v in (("request", self.request_verdict), ("answer", self.answer_verdict))
            if not v.ok
        ]
        if drift:
            return "DRIFT " + " | ".join(drift)
        unknown = self.request_verdict.unknown_fields + self.answer_verdict.unknown_fields
        text = "ok" if self.request_verdict.schema or self.answer_verdict.schema else "-"
        if unknown:
            text += f" (unknown fields: {', '.join(unknown)})"
        return text + (f" ({self.note})" if self.note else "")

    def line(self) -> str:
        """``POST /luma/videos 200 ok`` — method, path, status, verdict."""
        return f"{self.method} {self.path} {self.status} {self.verdict()}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


# -- what the contract says about an exchange ---------------------------------------------


def _check(schema: str, payload: Any) -> BodyVerdict:
    verdict = contract.check(schema, payload)
    return BodyVerdict(schema, [str(p) for p in verdict.problems], list(verdict.unknown_fields))


def request_verdict(method: str, path: str, body: Any) -> BodyVerdict:
    if method != "POST" or path not in ("/luma/videos", "/luma/tasks"):
        return BodyVerdict()
    return _check(f"acedata/{path.rsplit('/', 1)[1]}-request", body)


def answer_schema(path: str, request: Any, status: int) -> str | None:
    """The schema an answer must satisfy, from the endpoint, the request and the status."""
    if path not in ("/luma/videos", "/luma/tasks"):
        return None
    if status >= 400:
        return "acedata/error"
    if not 200 <= status < 300:
        return None
    body = contract.given(request) if isinstance(request, dict) else {}
    if path == "/luma/videos":
        immediate = body.get("callback_url") or body.get("async") is True
        return "acedata/videos-accepted" if immediate else "acedata/videos-result"
    return (
        "acedata/tasks-batch" if body.get("action") == "retrieve_batch" else "acedata/task-record"
    )


def answer_verdict(path: str, request: Any, status: int, answer: Any, is_json: bool) -> BodyVerdict:
    schema = answer_schema(path, request, status)
    if schema is None:
        return BodyVerdict()
    if not is_json:
        return BodyVerdict(schema, [f"the answer is not JSON: {str(answer)[:80]!r}"])
    verdict = _check(schema, answer)
    if schema == "acedata/error" and verdict.ok:
        code = answer["error"]["code"]
        documented = contract.error_codes("acedata/error")[code].status
        if documented != status:
            verdict.problems.append(f"{code} is documented with status {documented}, not {status}")
    return verdict


def _parse(raw: bytes) -> tuple[Any, bool]:
    if not raw:
        return None, False
    try:
        return json.loads(raw), True
    except ValueError:
        return raw[:2000].decode("utf-8", "replace"), False


def envelope(code: str, message: str) -> dict[str, Any]:
    return {
        "success": False,
        "error": {"code": code, "message": message},
        "trace_id": str(uuid.uuid4()),
    }


# -- the Dream Machine dialect --------------------------------------------------------------

DM_PREFIX = "/dream-machine/v1"
DM_REQUESTS = {
    "/generations": "dream-machine/video-request",  # the create path before SDK 1.12
    "/generations/video": "dream-machine/video-request",
    "/generations/image": "dream-machine/image-request",
}
DM_READS = {"/ping": "dream-machine/ping", "/credits": "dream-machine/credits"}
# The statuses the SDKs raise a named exception for; 5xx are InternalServerError.
DM_SDK_STATUSES = frozenset({400, 401, 403, 404, 409, 422, 429})


def dm_path(path: str) -> str:
    """The path without the dialect's prefix (the SDKs' own mocks serve at the root)."""
    return path[len(DM_PREFIX) :] or "/" if path.startswith(DM_PREFIX) else path


def dm_request_verdict(method: str, path: str, body: Any) -> BodyVerdict:
    schema = DM_REQUESTS.get(dm_path(path)) if method == "POST" else None
    return BodyVerdict() if schema is None else _check(schema, body)


def dm_answer_schema(method: str, path: str, status: int) -> str | None:
    """The schema of a Dream Machine answer, from the endpoint and the status."""
    parts = dm_path(path).strip("/").split("/")
    known = parts[0] in ("generations", "ping", "credits")
    if status >= 400:
        return "dream-machine/error" if known else None
    if not 200 <= status < 300 or status == 204:
        return None
    if parts[0] != "generations":
        return DM_READS.get("/" + "/".join(parts))
    if parts == ["generations"]:
        return "dream-machine/list" if method == "GET" else "dream-machine/generation"
    if parts[1] in ("concepts", "camera_motion"):
        return None
    return "dream-machine/generation"  # a create, a get, an upscale, an audio


def dm_answer_verdict(
    method: str, path: str, status: int, answer: Any, is_json: bool, raw: bytes = b""
) -> BodyVerdict:
    if status == 204:
        problems = [f"a 204 with a body: {raw[:80]!r}"] if raw.strip() else []
        return BodyVerdict("no content", problems)
    schema = dm_answer_schema(method, path, status)
    if schema is None:
        return BodyVerdict()
    if not is_json:
        return BodyVerdict(schema, [f"the answer is not JSON: {str(answer)[:80]!r}"])
    verdict = _check(schema, answer)
    if status >= 400 and status < 500 and status not in DM_SDK_STATUSES:
        verdict.problems.append(f"status {status} has no exception of its own in the SDKs")
    return verdict


def detail(message: str) -> dict[str, Any]:
    """The Dream Machine error body."""
    return {"detail": message}
