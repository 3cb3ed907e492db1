"""What the Flask side of the HTTP layer shares: the fake behind the current app, and
answers rendered as JSON. Its own module so that the control API (`admin`) and the app
that mounts it (`app`) both import it, and neither imports the other."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..engine.errors import ApiError
from ..engine.fake import Fake
from .exchanges import parse_json


def service() -> Fake:
    """The fake the current app serves (`create_app`'s)."""
    fake: Fake = current_app.extensions["luma"]
    return fake


def render(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    if isinstance(body, dict) and "task_id" in body:
        g.task_id = body["task_id"]
    g.answer = body  # the journal keeps the object rather than parsing the text again
    payload = json.dumps(body, ensure_ascii=False)
    return Response(payload, status, headers=headers, mimetype="application/json")


def render_error(error: ApiError) -> Response:
    """``error`` in the error body of the dialect that answers the request's path
    (`Fake.dialect_of`)."""
    dialect = service().dialect_of(request.path)
    body = dialect.error_body(error.code, error.in_words_of(dialect.error_codes()))
    return render(body, error.status, error.headers)


def json_body() -> Any:
    """The request's JSON body, or 400 ``bad_request`` saying what is wrong with it."""
    raw = request.get_data(cache=False)  # over the size limit: 413 from werkzeug
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is None and len(raw) >= limit:
        # A chunked body has no length to refuse up front; werkzeug stops reading at the
        # limit instead of failing, so a body that reached it is too large.
        raise RequestEntityTooLarge()
    g.raw_body = raw
    g.body = parse_json(request.content_type, raw)
    return g.body
