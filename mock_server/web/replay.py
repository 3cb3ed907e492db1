"""The HTTP front of a replay (`luma-mock replay`): every path but the fake's own
(the control API and dashboard under /__admin/, /health, the cassette's media) is
answered from the cassette by `mock_server.replay.Player` — journaled on arrival, one
log line, the recorded status and headers (less hop-by-hop ones and the length: the
body is sent decoded, never compressed again). A request the cassette has no answer for
gets the dialect's error body, 501 ``not_recorded``, with ``X-Luma-Mock-Replay:
unmatched``. Thin on purpose: what is answered, and when, is the player's.

A held answer (a synchronous call played at its recorded duration) waits on an event
the fake's scheduler sets: under the gevent server that is a greenlet waiting, not the
server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..engine.errors import ApiError
from ..engine.fake import Fake
from ..engine.journal import JournalEntry
from ..replay import UNMATCHED_HEADER, Answer, Asked, NotRecorded, Player
from ..replay.media import MEDIA_ROUTE
from .api import _ClosingBody
from .exchanges import (
    base_url,
    encode,
    internal_error,
    journal_answer,
    journal_body,
    journal_headers,
    log_request,
)
from .routing import status_line
from .wsgi import WSGIApp

# The fake's own paths, served by the Flask app behind; everything else is the cassette's.
OWN_PATHS = ("/__admin", MEDIA_ROUTE, "/health")


class ReplayEndpoints:
    """WSGI: the cassette's answers, the fake's own paths handed to ``fallback``."""

    def __init__(self, fake: Fake, player: Player, fallback: WSGIApp, max_body: int) -> None:
        self.fake, self.player, self.fallback, self.max_body = fake, player, fallback, max_body
        self.engine = next(iter(fake.engines.values()))  # any: the clock is the fake's

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith(OWN_PATHS):
            return self.fallback(environ, start_response)
        started = time.perf_counter()
        method = environ["REQUEST_METHOD"]
        query = environ.get("QUERY_STRING") or None
        journal = self.fake.journal
        entry = journal.record(
            JournalEntry(
                kind="request",
                at=self.fake.clock.now(),
                method=method,
                path=path,
                query=query,
                headers=journal_headers(environ),
                received=started,
            )
        )
        raw = b""
        headers: list[tuple[str, str]] = []
        task_id: str | None = None
        error_body = self.fake.dialect_of(path).error_body
        try:
            raw = self._read(environ)
            asked = Asked(method, path, query, _lower_headers(environ), raw)
            token = _bearer(environ.get("HTTP_AUTHORIZATION"))
            # Media and echoed URLs point here: --public-url's base if given.
            base = self.fake.settings.public_url or base_url(environ)
            answer: Answer = self.player.answer(asked, base, token)
            status, payload, headers, task_id = (
                answer.status, answer.body, answer.headers, answer.task_id
            )  # fmt: skip
        except NotRecorded as unmatched:
            status, headers = 501, [UNMATCHED_HEADER, ("Content-Type", "application/json")]
            payload = encode(error_body("not_recorded", unmatched.message))
        except ApiError as error:
            status, headers = error.status, [("Content-Type", "application/json")]
            payload = encode(error_body(error.code, error.message))
        except Exception:
            error = internal_error(method, path)
            status, headers = error.status, [("Content-Type", "application/json")]
            payload = encode(error_body(error.code, error.message))
        journal_answer(
            journal,
            entry,
            call=None,
            body=journal_body(_json(raw), raw),
            status=status,
            answer=_json(payload) or (f"<{len(payload)} bytes>" if payload else None),
            task_id=task_id,
            fault=None,
            answer_headers=headers,
        )
        log_request(method, path, status, task_id, started, None)
        if status in (204, 304):  # no content, by definition, whatever was recorded
            payload = b""
        framed = [*headers, ("Content-Length", str(len(payload)))]
        start_response(status_line(status), framed)
        body: Iterable[bytes] = [payload]
        if not self.engine.scheduler.manual:
            return body
        # Callbacks due at once go after the answer, as the provider answers first.
        return _ClosingBody(body, self.engine.catch_up)

    def _read(self, environ: dict[str, Any]) -> bytes:
        length = environ.get("CONTENT_LENGTH") or ""
        known = int(length) if length.isdigit() else None
        if known is None or known <= self.max_body:
            raw = environ["wsgi.input"].read(self.max_body + 1 if known is None else known)
            if len(raw) <= self.max_body:
                return bytes(raw)
        raise ApiError("request_too_large", f"the request body is over {self.max_body} bytes")


def _lower_headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


def _bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None
