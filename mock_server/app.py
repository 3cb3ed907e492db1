"""The HTTP layer: Flask blueprints that parse a request, call `LumaService`, and render
its answer or its `ApiError` in the envelope. Nothing clever lives here."""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request, send_file
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from . import media
from .admin import admin
from .errors import ApiError
from .faults import ENVIRON_KEY, ConnectionFault
from .journal import JournalEntry, redact_headers
from .scenarios import SCENARIO_HEADER
from .service import Call, LumaService

log = logging.getLogger("luma_mock.requests")

luma_api = Blueprint("luma_api", __name__)
media_files = Blueprint("media_files", __name__)
meta = Blueprint("meta", __name__)


def service() -> LumaService:
    return current_app.extensions["luma"]


def render(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    if isinstance(body, dict) and "task_id" in body:
        g.task_id = body["task_id"]
    g.answer = body  # the journal keeps the object rather than parsing the text again
    payload = json.dumps(body, ensure_ascii=False)
    return Response(payload, status, headers=headers, mimetype="application/json")


def render_error(error: ApiError) -> Response:
    return render(error.envelope(), error.status, error.headers)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_body() -> Any:
    """The request's JSON body, or 400 ``bad_request`` saying what is wrong with it."""
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(
            "bad_request", f"content-type must be application/json, got {mimetype or 'none'}"
        )
    raw = request.get_data(cache=False)  # over the size limit: 413 from werkzeug
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is None and len(raw) >= limit:
        # A chunked body has no length to refuse up front; werkzeug stops reading at the
        # limit instead of failing, so a body that reached it is too large.
        raise RequestEntityTooLarge()
    g.raw_body = raw
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        raise ApiError("bad_request", f"body is not UTF-8 (byte {bad.start})") from None
    try:
        body = json.loads(text, parse_float=_finite, parse_constant=_reject_constant)
    except json.JSONDecodeError as bad:
        where = f"line {bad.lineno} column {bad.colno}"
        raise ApiError("bad_request", f"body is not valid JSON: {bad.msg} at {where}") from None
    except RecursionError:
        raise ApiError("bad_request", "body is not valid JSON: nested too deeply") from None
    except ValueError as bad:
        raise ApiError("bad_request", f"body is not valid JSON: {bad}") from None
    if _deeper_than(body, MAX_JSON_DEPTH):
        raise ApiError("bad_request", f"body is nested deeper than {MAX_JSON_DEPTH} levels")
    g.body = body
    return body


# No message of the contract nests more than a few levels; a cap keeps every later
# walk of a body (rendering records, the journal) far from Python's recursion limit.
MAX_JSON_DEPTH = 32


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return False


def _base_url() -> str:
    # What the client called, e.g. http://127.0.0.1:8000 (cheaper than request.host_url,
    # which also converts the URL to an IRI).
    return f"{request.scheme}://{request.host}"


@luma_api.post("/luma/videos")
def videos() -> Response:
    return render(_call("videos"))


@luma_api.post("/luma/tasks")
def tasks() -> Response:
    return render(_call("tasks"))


def _call(endpoint: str) -> dict[str, Any]:
    luma = service()
    token = luma.authenticate(request.headers.get("Authorization"))
    scenario = request.headers.get(SCENARIO_HEADER)
    g.call = Call(endpoint, json_body(), token, _base_url(), scenario)
    entry = g.get("entry")
    if entry is not None:  # held calls show their task in the journal before they answer
        g.call.on_task = lambda task_id: luma.journal.update(entry, task_id=task_id)
    return luma.handle(g.call)


@media_files.get("/luma/<task_id>.mp4")
def video_file(task_id: str) -> Response:
    return _media(task_id, "mp4")


@media_files.get("/luma/<task_id>.jpg")
def thumbnail_file(task_id: str) -> Response:
    return _media(task_id, "jpg")


def _media(task_id: str, kind: str) -> Response:
    g.task_id = task_id
    task = service().media_for(task_id)
    path = media.media_file(task.aspect_ratio, kind)
    return send_file(path, mimetype=media.KINDS[kind], conditional=True, max_age=3600)


@meta.get("/health")
def health() -> Response:
    luma = service()
    evicted = getattr(luma.store, "evicted", None)
    return render(
        {"status": "ok", "tasks": len(luma.store), "evicted": evicted, "clock": luma.clock.now()}
    )


@meta.get("/openapi.json")
def openapi() -> Response:
    return Response(_openapi_text(), mimetype="application/json")


@functools.cache
def _openapi_text() -> str:
    """Assembled once per process: the schemas it is built from do not change."""
    from contract_tests.openapi import document

    return json.dumps(document(), ensure_ascii=False)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    code = _HTTP_CODES.get(status, "bad_request" if status < 500 else "api_error")
    headers = {}
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    if status in (400, 413):
        # Our own bad-input answers are ApiErrors; a werkzeug 400 means the request
        # itself could not be read (a broken chunked body, say), and after that — or a
        # body left unread past the limit — the connection's framing cannot be trusted.
        headers["Connection"] = "close"
    messages = {
        "bad_request": "the request could not be read (is its body framed correctly?)",
        "not_found": f"no such path: {request.path}",
        "method_not_allowed": f"{request.method} is not allowed on {request.path}",
        "request_too_large": (
            f"the request body is over {current_app.config['MAX_CONTENT_LENGTH']} bytes"
        ),
    }
    return render_error(ApiError(code, messages.get(code, error.description), headers=headers))


def _unexpected(error: Exception) -> Response:
    # Never a stack trace to the client; the log keeps it for whoever runs the fake.
    log.exception("unexpected error on %s %s", request.method, request.path)
    return render_error(ApiError("api_error", "internal error in the fake (see its log)"))


def _connection_fault(error: ConnectionFault) -> Response:
    """The request was handled but its answer must arrive broken. The socket-level kinds
    are carried out by the server's connection handler (`connection`), which finds the
    fault in the environ and needs the normal rendering (a truncated answer is cut from
    it); the two kinds that are still well-formed HTTP are rendered here."""
    fault = error.fault
    request.environ[ENVIRON_KEY] = fault
    response = render(error.answer, error.status)
    if fault.kind == "malformed_json":
        # A 200 that claims JSON and whose Content-Length is right: only the parse fails.
        text = response.get_data(as_text=True)
        return Response(text[: len(text) // 2], 200, mimetype="application/json")
    if fault.kind == "dribble":
        payload = response.get_data()
        return Response(
            _dribble(payload, fault.seconds),
            error.status,
            headers={"Content-Length": str(len(payload))},  # streamed, yet of known size
            mimetype="application/json",
        )
    return response


def _dribble(payload: bytes, seconds: float) -> Iterator[bytes]:
    """``payload`` a few bytes at a time, spread over ``seconds``. Under gevent the sleep
    yields to other connections. Pieces of 8 bytes, but at least 10 pieces (so even a
    short answer dribbles) and at most 200 (so a big one is not a sleep per 8 bytes)."""
    size = max(1, min(-(-len(payload) // 10), max(8, -(-len(payload) // 200))))
    pieces = [payload[start : start + size] for start in range(0, len(payload), size)]
    pause = seconds / max(len(pieces) - 1, 1)
    for index, piece in enumerate(pieces):
        if index:
            time.sleep(pause)
        yield piece


def _started() -> None:
    g.started = time.perf_counter()
    if not request.path.startswith("/__admin"):
        # Journaled on arrival, so a test can wait for a request that is still held.
        g.entry = service().journal.record(
            JournalEntry(
                kind="request",
                at=service().clock.now(),
                method=request.method,
                path=request.path,
                headers=redact_headers(request.headers),
            )
        )


JOURNAL_BODY_LIMIT = 65_536  # bytes of a body kept in the journal


def _journal(response: Response) -> None:
    """Complete the request's journal entry: the body, the schema's verdict (unknown
    fields included), the scenario rule and fault, and the answer given."""
    entry: JournalEntry | None = g.get("entry")
    if entry is None:
        return
    call: Call | None = g.get("call")
    verdict = call.verdict if call is not None else None
    fault = request.environ.get(ENVIRON_KEY)
    service().journal.update(
        entry,
        body=_journal_body(),
        verdict=None
        if verdict is None
        else {
            "schema": verdict.schema,
            "ok": verdict.ok,
            "problems": [str(p) for p in verdict.problems],
            "unknown_fields": list(verdict.unknown_fields),
        },
        status=response.status_code,
        answer=_journal_answer(response),
        task_id=(call.task_id if call is not None else None) or g.get("task_id"),
        rule=call.rule if call is not None else None,
        fault=fault.kind if fault is not None else None,
    )


def _journal_body() -> Any:
    if "body" in g:
        return g.body
    raw = g.get("raw_body")
    if raw is None:
        try:
            raw = request.get_data(cache=True)
        except HTTPException:  # too large to read: the answer says so already
            return None
    if not raw:
        return None
    return raw[:JOURNAL_BODY_LIMIT].decode("utf-8", "replace")


def _journal_answer(response: Response) -> Any:
    if "answer" in g and not response.is_streamed:
        return g.answer
    if response.is_streamed or response.direct_passthrough:
        return f"<{response.mimetype} stream>"
    if response.mimetype != "application/json":
        return f"<{response.mimetype}, {response.content_length} bytes>"
    return response.get_json(silent=True)


def _catch_up_after(response: Response) -> None:
    """On a manual clock, callbacks that fell due during this call are sent once its
    answer has been written (as the real service answers before it calls back)."""
    luma = service()
    if luma.scheduler.manual:
        response.call_on_close(luma.catch_up)


def _log_request(response: Response) -> Response:
    """One line per request, and never the token (the JSON log format emits ``fields``)."""
    if not log.isEnabledFor(logging.INFO):
        _journal(response)
        _catch_up_after(response)
        return response
    duration_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    fields = {
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "task_id": g.get("task_id") or (g.call.task_id if "call" in g else None),
        "duration_ms": round(duration_ms, 2),
    }
    fault = request.environ.get(ENVIRON_KEY)
    if fault is not None:
        fields["fault"] = fault.kind
    log.info(
        "%s %s %s task=%s %.1fms%s",
        request.method,
        request.path,
        response.status_code,
        fields["task_id"] or "-",
        duration_ms,
        f" fault={fault.kind}" if fault is not None else "",
        extra={"fields": fields},
    )
    _journal(response)
    _catch_up_after(response)
    return response


def create_app(luma: LumaService) -> Flask:
    app = Flask("luma_mock")
    app.config["MAX_CONTENT_LENGTH"] = luma.settings.max_body_bytes
    app.extensions["luma"] = luma
    for blueprint in (luma_api, media_files, meta, admin):
        app.register_blueprint(blueprint)
    app.register_error_handler(ApiError, render_error)
    app.register_error_handler(ConnectionFault, _connection_fault)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.before_request(_started)
    app.after_request(_log_request)
    return app
