"""The calls the dialects route to their engines (for AceDataCloud ``POST /luma/videos``
and ``POST /luma/tasks``, say), as a plain WSGI app in front of the Flask one: read the
body, call the engine, render its answer or its `ApiError` in the dialect's error body,
journal and log the exchange. Which paths these are is each dialect's
(``engine.dialect.routes``), gathered into one table for every engine of the fake.

They are the calls a client makes thousands of times, so they skip Flask's request
machinery (~55 µs a call measured, more than the work itself); every other path — media,
/health, the control API, unknown paths — falls through to Flask. The steps are the ones
the Flask hooks take for the other paths, from the same helpers (`exchanges`), so a
request is handled alike on either side.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..engine.dialect import Call, Route
from ..engine.errors import ApiError, ErrorInfo
from ..engine.fake import Fake
from ..engine.faults import ENVIRON_KEY, ConnectionFault, Fault
from ..engine.journal import JournalEntry
from ..engine.scenarios import SCENARIO_HEADER
from ..engine.service import Engine
from .exchanges import (
    answer_body,
    base_url,
    encode,
    internal_error,
    journal_answer,
    journal_body,
    journal_headers,
    log_request,
    parse_json,
)
from .payment_gate import Gate, PaymentRequired, required_header
from .routing import (
    NO_BODY,
    compile_templates,
    match_template,
    single_slashes,
    status_line,
    with_query,
)
from .wsgi import WSGIApp

if TYPE_CHECKING:
    from ..x402.gateway import Gateway, Payment

log = logging.getLogger("luma_mock.x402")

_SCENARIO_KEY = "HTTP_" + SCENARIO_HEADER.upper().replace("-", "_")


# -- the endpoints ---------------------------------------------------------------------


# A path's route, the engine it goes to, that dialect's error body and codes, and its x402
# gate (None unless the fake is the pay-per-call gateway for it): looked up once, since
# none of them changes.
Served = tuple[Route, Engine, Callable[..., dict[str, Any]], Mapping[str, ErrorInfo], "Gate | None"]


class LumaEndpoints:
    """WSGI: every engine's routes, everything else handed to ``fallback`` (the Flask
    app). One table for all the fake's dialects, in their order: exact paths first, then
    templates, so the hot path stays one dict lookup whichever dialect serves it."""

    def __init__(
        self, fake: Fake, fallback: WSGIApp, max_body: int, gateway: Gateway | None = None
    ) -> None:
        self.fallback = fallback
        self.max_body = max_body
        self.routes: dict[str, Served] = {}
        self.templates: list[tuple[re.Pattern[str], Served]] = []
        for engine in fake.engines.values():
            dialect = engine.dialect
            speaks = dialect.error_body, dialect.error_codes()
            for path, route in dialect.routes.items():
                if path in self.routes:
                    raise ValueError(f"two dialects route {path}")
                gate = _gate(gateway, dialect.name, path, route)
                self.routes[path] = (route, engine, *speaks, gate)
            self.templates += compile_templates(
                {
                    template: (
                        route,
                        engine,
                        *speaks,
                        _gate(gateway, dialect.name, template, route),
                    )
                    for template, route in dialect.route_templates.items()
                }
            )

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if "//" in path:
            # A base URL with a trailing slash makes the provider's clients ask for
            # //luma/videos; the real service (a default nginx) reads it as /luma/videos.
            path = environ["PATH_INFO"] = single_slashes(path)
        # Exact paths first, one dict lookup (the hot path); templates only on a miss.
        served = self.routes.get(path)
        params: dict[str, str] | None = None
        if served is None:
            served, params = match_template(self.templates, path)
            if served is None:
                return self.fallback(environ, start_response)
        route, luma, error_body, error_codes, gate = served
        started = time.perf_counter()
        method = environ["REQUEST_METHOD"]
        try:
            now = luma.clock.now()  # a shared clock lives in Redis
        except Exception as unexpected:
            return self._unavailable(served, unexpected, method, path, started, start_response)
        # Journaled on arrival, so a test can wait for a request that is still held.
        entry = luma.journal.record(
            JournalEntry(
                kind="request",
                at=now,
                method=method,
                path=path,
                query=environ.get("QUERY_STRING") or None,
                headers=journal_headers(environ),
                received=started,
            )
        )
        call: Call | None = None
        body: Any = None
        raw: bytes | None = None
        fault: Fault | None = None
        headers: list[tuple[str, str]] = []
        payment: Payment | None = None
        required: PaymentRequired | None = None
        try:
            if method not in route.methods:
                headers.append(("Allow", route.allow))
                raise ApiError("method_not_allowed", f"{method} is not allowed on {path}")
            if method == "OPTIONS":
                return self._options(luma, entry, path, route.allow, started, start_response)
            endpoint, success = route.dispatch[method]
            if gate is None:  # the one check a call pays for the gateway when it is off
                token = luma.authenticate(environ.get("HTTP_AUTHORIZATION"))
            else:
                token, payment, raw = gate.admit(environ, luma, endpoint, method, path, self._read)
            if method in NO_BODY:
                params = with_query(params or {}, environ.get("QUERY_STRING"))
            else:
                if raw is None:
                    raw = self._read(environ)
                body = parse_json(environ.get("CONTENT_TYPE"), raw)
            call = Call(endpoint, body, token, base_url(environ), environ.get(_SCENARIO_KEY), path)
            if params:
                call.params = params
            call.on_task = lambda task_id: luma.journal.update(entry, task_id=task_id)
            answer, status = luma.handle(call), success
        except ApiError as error:
            answer = error_body(error.code, error.in_words_of(error_codes))
            status = error.status
            headers += error.headers.items()
        except PaymentRequired as challenge:
            required, answer, status = challenge, challenge.body, challenge.status
        except ConnectionFault as broken:
            fault, answer, status = broken.fault, broken.answer, broken.status
            environ[ENVIRON_KEY] = fault  # the server carries out the socket-level kinds
        except Exception as unexpected:
            # Never a stack trace to the client; the log keeps it for whoever runs the
            # fake. A shared store out of reach is a 503 of the dialect's, logged once.
            error = luma.unavailable(unexpected) or internal_error(method, path)
            answer = error_body(error.code, error.in_words_of(error_codes))
            status = error.status
            headers += error.headers.items()
        payload = encode(answer) if status != 204 else b""  # 204: no content, by definition
        # The task a call made or asked about: the engine tells it (`Call.task_id`), so
        # no answer's shape is read for it here.
        task_id = call.task_id if call is not None else None
        paid = None
        if gate is not None:
            paid = self._paid(gate, luma, payment, required, status, task_id, payload, headers)
        journal_answer(
            luma.journal,
            entry,
            call=call,
            body=journal_body(body, raw),
            status=status,
            answer=answer,
            task_id=task_id,
            fault=fault,
            answer_headers=headers,
            payment=paid,
        )
        log_request(method, path, status, task_id, started, fault)
        content, length = answer_body(fault, payload)
        typed = [("Content-Type", "application/json")] if status != 204 else []
        start_response(status_line(status), [*typed, ("Content-Length", str(length)), *headers])
        return self._then_catch_up(luma, content)

    def _paid(
        self,
        gate: Gate,
        luma: Engine,
        payment: Payment | None,
        required: PaymentRequired | None,
        status: int,
        task_id: str | None,
        payload: bytes,
        headers: list[tuple[str, str]],
    ) -> dict[str, Any] | None:
        """A gated call's end: the challenge's header (the body's own bytes), or its
        payment settled or released; the payment as the journal shows it."""
        if required is not None:
            headers.append(required_header(payload))
            return required.record
        if payment is None:
            return None
        try:
            record, more = gate.finish(luma, payment, status, task_id)
        except Exception:  # the store out of reach: the nonce stays held, never spent twice
            log.exception("the payment of task %s could not be settled", task_id)
            return None
        headers += more
        return record

    def _unavailable(
        self,
        served: Served,
        unexpected: Exception,
        method: str,
        path: str,
        started: float,
        start_response: Callable[..., Any],
    ) -> Any:
        """A shared store out of reach before the call could even be journaled: its 503."""
        _, luma, error_body, error_codes, _ = served
        error = luma.unavailable(unexpected)
        if error is None:
            raise unexpected
        payload = encode(error_body(error.code, error.in_words_of(error_codes)))
        log_request(method, path, error.status, None, started, None)
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        start_response(status_line(error.status), [*headers, *error.headers.items()])
        return [payload]

    def _read(self, environ: dict[str, Any]) -> bytes:
        """The whole body; 413 past the limit (the server refuses those before the app
        runs, an in-process transport does not). A length that is no number is read as
        no length: up to the limit."""
        length = environ.get("CONTENT_LENGTH") or ""
        known = int(length) if length.isdigit() else None
        if known is None or known <= self.max_body:
            raw = environ["wsgi.input"].read(self.max_body + 1 if known is None else known)
            if len(raw) <= self.max_body:
                return raw
        raise ApiError(
            "request_too_large",
            f"the request body is over {self.max_body} bytes",
            headers={"Connection": "close"},  # what is left unread breaks the framing
        )

    def _options(
        self,
        luma: Engine,
        entry: JournalEntry,
        path: str,
        allow: str,
        started: float,
        start_response: Callable[..., Any],
    ) -> list[bytes]:
        luma.journal.update(entry, status=200, answer=None)
        log_request("OPTIONS", path, 200, None, started, None)
        start_response(
            "200 OK", [("Allow", allow), ("Content-Type", "text/html"), ("Content-Length", "0")]
        )
        return []

    def _then_catch_up(self, luma: Engine, body: Iterable[bytes]) -> Iterable[bytes]:
        """On a manual clock, callbacks that fell due during this call are sent once its
        answer has been written (as the real service answers before it calls back)."""
        if not luma.scheduler.manual:
            return body
        return _ClosingBody(body, luma.catch_up)


def _gate(gateway: Gateway | None, dialect: str, path: str, route: Route) -> Gate | None:
    """The route's x402 gate: None unless the fake is the gateway for its dialect."""
    if gateway is None:
        return None
    paid = gateway.paid_methods(dialect, path, route.methods)
    return None if paid is None else Gate(gateway, paid)


class _ClosingBody:
    """A WSGI body that runs ``on_close`` when the server closes it (after writing it)."""

    def __init__(self, body: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self._body, self._on_close = body, on_close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()
        self._on_close()
