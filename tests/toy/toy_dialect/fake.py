"""The toy API as the fake serves it: a `mock_server.engine.dialect.Dialect`, written
only against the engine's seam."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from contract_tests.contract import Verdict, check, given
from contract_tests.contract.packs import pack
from mock_server.engine.callbacks import TargetRefused
from mock_server.engine.dialect import Call, EngineAPI, Route
from mock_server.engine.errors import ENGINE_CODES, ApiError
from mock_server.engine.scenarios import Outcome
from mock_server.engine.tasks import Task, TaskState

PREFIX = "/toy/v1"
STATUS = {
    TaskState.PENDING: "queued",
    TaskState.PROCESSING: "running",
    TaskState.COMPLETED: "done",
    TaskState.FAILED: "failed",
}


@dataclass(frozen=True)
class Code:
    status: int
    message: str


# The engine's codes at the statuses every dialect of a process shares.
CODES: dict[str, Code] = {
    "bad_request": Code(400, "bad request"),
    "invalid_token": Code(401, "who are you?"),
    "used_up": Code(403, "no credits left"),
    "not_found": Code(404, "no such job"),
    "method_not_allowed": Code(405, "method not allowed"),
    "request_too_large": Code(413, "too large"),
    "too_many_requests": Code(429, "slow down"),
    "api_error": Code(500, "the toy broke"),
    "timeout": Code(504, "too slow"),
    "not_recorded": Code(501, "not in the cassette"),
}
assert set(ENGINE_CODES) <= set(CODES)
_NO_BODY = Verdict("")


def _route(endpoint: str, method: str, status: int = 200) -> Route:
    return Route(endpoint, frozenset({method, "OPTIONS"}), status)


class ToyDialect:
    name = "toy"
    base_urls = ("https://toy.invalid",)
    openapi_path = f"{PREFIX}/openapi.json"
    path_prefixes = (PREFIX,)
    callback_retry = None  # the settings' policy
    error_aliases: Mapping[str, str] = MappingProxyType({})
    refunds_failures = False

    def __init__(self) -> None:
        self.routes = {f"{PREFIX}/jobs": _route("create", "POST", 201)}
        self.route_templates = {f"{PREFIX}/jobs/{{id}}": _route("get", "GET")}
        self.media_routes = {f"{PREFIX}/files/<task_id>.png": "png"}

    def error_codes(self) -> Mapping[str, Code]:
        return CODES

    def error_body(
        self, code: str, message: str, trace_id: str | None = None, task_id: str | None = None
    ) -> dict[str, Any]:
        return {"oops": message}

    def check_request(self, endpoint: str, body: Any) -> tuple[Verdict, Any]:
        if endpoint != "create":
            return _NO_BODY, None
        verdict = check("toy/job-request", given(body))
        return verdict, (given(body) if verdict.ok else None)

    def describe(self, endpoint: str, fields: Any) -> tuple[str | None, str | None, str | None]:
        body = fields if isinstance(fields, Mapping) else {}
        return ("generate" if endpoint == "create" else endpoint), body.get("prompt"), None

    def serve(self, engine: EngineAPI, call: Call, outcome: Outcome | None) -> dict[str, Any]:
        if call.endpoint == "create":
            try:
                task = engine.create(
                    request=call.body,
                    token=call.token,
                    base_url=call.base_url,
                    action="generate",
                    variant="square",
                    outcome=outcome,
                    callback_url=call.fields.get("callback_url"),
                )
            except TargetRefused as refusal:
                raise ApiError("bad_request", f"callback_url: {refusal}") from None
            call.task_id = task.id
            if call.on_task is not None:
                call.on_task(task.id)
            return engine.record(task)
        job_id = (call.params or {}).get("id", "")
        call.task_id = job_id
        task = engine.own(job_id, call.token)
        if task is None:
            raise ApiError("not_found", f"job {job_id!r} was not found")
        return engine.record(task)

    def result(self, task: Task) -> dict[str, Any]:
        return self._job(task, TaskState.COMPLETED)

    def response(self, task: Task) -> dict[str, Any]:
        return self._job(task, task.state)

    def record(self, task: Task) -> dict[str, Any]:
        return self._job(task, task.state)

    def _job(self, task: Task, state: TaskState) -> dict[str, Any]:
        done = state is TaskState.COMPLETED
        failed = state is TaskState.FAILED
        return {
            "id": task.id,
            "status": STATUS[state],
            "prompt": task.request.get("prompt", ""),
            "output": f"{task.public_url.rstrip('/')}{PREFIX}/files/{task.id}.png"
            if done
            else None,
            "problem": (task.error.message if task.error else "failed") if failed else None,
        }

    def media_file(self, task: Task, kind: str) -> tuple[Path, str]:
        return pack("toy").media / "square.png", "image/png"

    def openapi(self) -> dict[str, Any]:
        return {
            "openapi": "3.1.0",
            "info": {"title": "Toy jobs API, as luma-mock fakes it", "version": "0.1"},
            "paths": {
                f"{PREFIX}/jobs": {"post": {"responses": {"201": {"description": "a job"}}}},
                f"{PREFIX}/jobs/{{id}}": {"get": {"responses": {"200": {"description": "a job"}}}},
            },
        }

    def banner_example(self, url: str) -> str:
        return (
            f"curl -s {url}{PREFIX}/jobs -H 'authorization: Bearer any-token' "
            """-H 'content-type: application/json' -d '{"prompt": "a red square"}'"""
        )


DIALECT = ToyDialect()
