"""The app of a fake (`engine.fake.Fake`): every dialect's endpoints (`api`, plain WSGI,
in front) and Flask for the rest — each dialect's media files and OpenAPI document,
/health and the control API (with its own OpenAPI document) — parsing a request, calling
the engine, and rendering its answer or its `ApiError` in the error body of the dialect
the path is under. Nothing clever lives here."""

from __future__ import annotations

import functools
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, current_app, g, request, send_file
from werkzeug.exceptions import HTTPException

from ..engine.dialect import Dialect
from ..engine.errors import ApiError
from ..engine.fake import Fake
from ..engine.journal import JournalEntry, redact_headers
from ..engine.service import Engine
from . import solana_rpc
from .admin import admin
from .api import LumaEndpoints
from .control_document import control_document
from .dashboard import dashboard
from .exchanges import journal_answer, journal_body, log_request
from .metrics import install as install_metrics
from .rendering import render, render_error, service
from .replay import MEDIA_ROUTE, ReplayEndpoints

if TYPE_CHECKING:
    from ..replay import Player

log = logging.getLogger("luma_mock.requests")

meta = Blueprint("meta", __name__)


def _media(task_id: str, kind: str, engine: Engine) -> Response:
    """A completed task's media file of ``kind``; the route is the engine's dialect's
    (see `create_app`)."""
    g.task_id = task_id
    task = engine.media_for(task_id)
    path, mimetype = engine.dialect.media_file(task, kind)
    return send_file(path, mimetype=mimetype, conditional=True, max_age=3600)


@meta.get("/health")
def health() -> Response:
    """Up, with the tasks kept and evicted so far by every dialect, the clock, and the
    gauges a load balancer or a person wants (`metrics`)."""
    fake = service()
    stores = [engine.store for engine in fake.engines.values()]
    counts = [count for store in stores if (count := getattr(store, "evicted", None)) is not None]
    evicted = sum(counts) if counts else None
    tasks = sum(len(store) for store in stores)
    gauges = current_app.extensions["luma_metrics"].health()
    return render(
        {"status": "ok", "tasks": tasks, "evicted": evicted, "clock": fake.clock.now(), **gauges}
    )


def _openapi(engine: Engine) -> Response:
    return Response(_openapi_text(engine.dialect), mimetype="application/json")


_OPENAPI_TEXT: dict[str, str] = {}  # dialect name -> its document as JSON


def _openapi_text(dialect: Dialect) -> str:
    """Assembled once per dialect and process: the document does not change."""
    text = _OPENAPI_TEXT.get(dialect.name)
    if text is None:
        text = _OPENAPI_TEXT[dialect.name] = json.dumps(dialect.openapi(), ensure_ascii=False)
    return text


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
    # Never a stack trace to the client; the log keeps it for whoever runs the fake. A
    # shared store out of reach is a 503, logged once.
    unavailable = service().backing.unavailable(error)
    if unavailable is not None:
        return render_error(unavailable)
    log.exception("unexpected error on %s %s", request.method, request.path)
    return render_error(ApiError("api_error", "internal error in the fake (see its log)"))


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
                received=g.started,
            )
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
    return journal_body(None, raw)


def _journal_answer(response: Response) -> Any:
    if "answer" in g and not response.is_streamed:
        return g.answer
    if response.is_streamed or response.direct_passthrough:
        return f"<{response.mimetype} stream>"
    if response.mimetype != "application/json":
        return f"<{response.mimetype}, {response.content_length} bytes>"
    return response.get_json(silent=True)


def _after(response: Response) -> Response:
    """Journal the exchange (not the control API's) and log one line for it."""
    entry: JournalEntry | None = g.get("entry")
    if entry is not None:
        journal_answer(
            service().journal,
            entry,
            call=None,
            body=_journal_body(),
            status=response.status_code,
            answer=_journal_answer(response),
            task_id=g.get("task_id"),
            fault=None,
        )
    log_request(
        request.method,
        request.path,
        response.status_code,
        g.get("task_id"),
        g.get("started", time.perf_counter()),
        None,
    )
    return response


def _cassette_media(name: str, player: Player) -> Response:
    """A recorded media file of the cassette being replayed, Range requests and all."""
    found = player.media.file(name)
    if found is None:
        raise ApiError("not_found", f"the cassette has no media file {name!r}")
    return send_file(found.path, mimetype=found.content_type, conditional=True, max_age=3600)


def create_app(fake: Fake | Engine, *, replay: Player | None = None) -> Flask:
    """The app serving ``fake``: every engine's routes, media and OpenAPI document, in
    the fake's order. Given one engine, the app serves that engine's whole fake. With
    ``replay``, the dialects' paths are answered from its cassette instead (`replay`),
    and its media under /__cassette/media/."""
    if isinstance(fake, Engine):
        fake = fake.fake
    app = Flask("luma_mock")
    app.config["MAX_CONTENT_LENGTH"] = fake.settings.max_body_bytes
    app.extensions["luma"] = fake
    for engine in fake.engines.values():
        name = engine.dialect.name
        for rule, kind in engine.dialect.media_routes.items():
            view = functools.partial(_media, kind=kind, engine=engine)
            app.add_url_rule(rule, f"media_{name}_{kind}", view, methods=["GET"])
        view = functools.partial(_openapi, engine=engine)
        app.add_url_rule(engine.dialect.openapi_path, f"openapi_{name}", view, methods=["GET"])
    for blueprint in (meta, dashboard, admin, control_document):
        app.register_blueprint(blueprint)
    app.register_error_handler(ApiError, render_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.before_request(_started)
    app.after_request(_after)
    # The dialects' endpoints go first, outside Flask, in one table (see `api`); the
    # rest reaches Flask.
    limit = fake.settings.max_body_bytes
    if replay is not None:
        app.extensions["luma_replay"] = replay
        view = functools.partial(_cassette_media, player=replay)
        app.add_url_rule(f"{MEDIA_ROUTE}<name>", "cassette_media", view, methods=["GET"])
        app.wsgi_app = ReplayEndpoints(fake, replay, app.wsgi_app, limit)  # type: ignore[method-assign]
    else:
        gateway = None
        if fake.settings.x402:  # the pay-per-call gateway: its libraries are an extra, by need
            from ..x402.gateway import Gateway

            gateway = app.extensions["luma_x402"] = Gateway(fake)
            solana_rpc.install(app, fake.settings)  # the node its Solana offer names
        endpoints = LumaEndpoints(fake, app.wsgi_app, limit, gateway)
        app.wsgi_app = endpoints  # type: ignore[method-assign]
    install_metrics(app, fake)  # counts every answer: outermost
    return app


def served_routes(app: Flask) -> dict[str, set[str]]:
    """Every route the app serves, with its methods: Flask's URL map and the dialects'
    endpoints in front of it."""
    fake: Fake = app.extensions["luma"]
    routes: dict[str, set[str]] = {}
    for engine in fake.engines.values():
        dialect = engine.dialect
        for path, route in {**dialect.routes, **dialect.route_templates}.items():
            routes.setdefault(path, set()).update(route.methods)
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static":
            routes.setdefault(rule.rule, set()).update(rule.methods or ())
    return routes
