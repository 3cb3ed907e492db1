"""The fake answering in process, with no socket: for `requests` through the `responses`
library, and for httpx through a transport. Both hand each request to the fake's Flask
app, so every behaviour (validation, scenarios, the journal, media) is the same as over a
socket: the environ is built by `wsgi.request_environ`, as the socket server builds it,
from the request-target and header fields the client would have sent. Faults below HTTP
become the exceptions the client library raises for them.
Callbacks are still delivered for real, by the fake's dispatcher.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Flask

from ..engine.faults import ENVIRON_KEY, Fault
from .wsgi import WSGIApp, add_header, request_environ

if TYPE_CHECKING:
    import httpx
    import responses


@dataclass(frozen=True)
class AppAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    fault: Fault | None


def call_app(
    app: WSGIApp,
    method: str,
    url: str,
    headers: Iterable[tuple[bytes, bytes]],
    body: bytes | None,
) -> AppAnswer:
    """One request through the fake's WSGI app, as the socket server would hand it over
    (an environ built here directly: werkzeug's test client costs half as much again per
    call). ``headers`` are the fields as the client sends them, repeats and all."""
    parts = urlsplit(url)
    body = body or b""
    # The request-target and Host a client puts on the wire for this URL.
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    fields: dict[str, str] = {}
    for name, value in headers:
        add_header(fields, name, value)
    fields.setdefault("HTTP_HOST", parts.netloc)
    default_port = "443" if parts.scheme == "https" else "80"
    environ = request_environ(
        method.upper(),
        target.encode(),
        fields,
        body,
        server=(parts.hostname or "localhost", str(parts.port or default_port)),
        remote=("127.0.0.1", ""),  # no socket, so no port
        scheme=parts.scheme or "http",
        multithread=True,  # called on whichever thread the client runs on
    )
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], *_: Any) -> Any:
        answer["status"], answer["headers"] = int(status.split(" ", 1)[0]), response_headers
        return lambda data: None  # the legacy write() callable; Flask never uses it

    result = app(environ, start_response)
    try:
        data = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    fault = environ.get(ENVIRON_KEY)  # the app marks a fault in the environ it was given
    return AppAnswer(answer["status"], list(answer["headers"]), data, fault)


# -- requests, through `responses` ------------------------------------------------------


def _requests_error(fault: Fault) -> Exception | None:
    import requests

    if fault.kind == "reset":
        return requests.ConnectionError(ConnectionResetError(104, "Connection reset by peer"))
    if fault.kind == "empty":
        return requests.ConnectionError(
            http.client.RemoteDisconnected("Remote end closed connection without response")
        )
    if fault.kind == "truncated":
        return requests.exceptions.ChunkedEncodingError(
            "Connection broken: IncompleteRead (the fake cut the body short)"
        )
    if fault.kind == "hang":
        return requests.ReadTimeout("Read timed out (the fake hung)")
    return None  # malformed JSON and a dribble are well-formed HTTP: the body says it all


def _latin1(headers: Any) -> list[tuple[bytes, bytes]]:
    """A requests header dict as the fields http.client sends (latin-1 text, or bytes)."""
    return [
        (name.encode("latin-1"), value if isinstance(value, bytes) else value.encode("latin-1"))
        for name, value in headers.items()
    ]


def responses_mock(app: Flask, base_urls: Iterable[str] | None = None) -> responses.RequestsMock:
    """A `responses.RequestsMock` that answers every request under ``base_urls`` from the
    fake and lets anything else through to the network (e.g. a local callback receiver).
    By default, the URLs its dialect's clients send to (``dialect.base_urls``). Use it as
    a context manager, or start()/stop() it."""
    import responses

    if base_urls is None:
        base_urls = app.extensions["luma"].dialect.base_urls

    def answer(request: Any) -> tuple[int, dict[str, str], Any]:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        result = call_app(app, request.method, request.url, _latin1(request.headers), body)
        error = _requests_error(result.fault) if result.fault else None
        headers = {k: v for k, v in result.headers if k.lower() != "content-length"}
        return result.status, headers, error if error is not None else result.body

    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    # One pattern for every base URL: responses tries its registrations in turn per call.
    bases = "|".join(re.escape(base.rstrip("/")) for base in base_urls)
    pattern = re.compile(rf"(?:{bases})(/.*)?$")
    for method in ("POST", "GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
        mock.add_callback(method, pattern, callback=answer)
    mock.add_passthru(re.compile(r".*"))
    return mock


# -- httpx -------------------------------------------------------------------------------


def _httpx_error(fault: Fault, request: httpx.Request) -> Exception | None:
    import httpx

    if fault.kind == "reset":
        return httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
    if fault.kind == "empty":
        return httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    if fault.kind == "truncated":
        return httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body", request=request
        )
    if fault.kind == "hang":
        return httpx.ReadTimeout("timed out (the fake hung)", request=request)
    return None


def _httpx_answer(app: Flask, request: httpx.Request) -> httpx.Response:
    import httpx

    result = call_app(app, request.method, str(request.url), request.headers.raw, request.read())
    error = _httpx_error(result.fault, request) if result.fault else None
    if error is not None:
        raise error
    return httpx.Response(result.status, headers=result.headers, content=result.body)


def httpx_transport(app: Flask) -> httpx.BaseTransport:
    """An httpx transport answered by the fake: ``httpx.Client(transport=...)``."""
    import httpx

    class LumaTransport(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return _httpx_answer(app, request)

    return LumaTransport()


def async_httpx_transport(app: Flask) -> httpx.AsyncBaseTransport:
    """The same for ``httpx.AsyncClient``; the fake answers at once for async calls and
    instant tasks (a held synchronous call blocks the event loop until its task ends)."""
    import httpx

    class AsyncLumaTransport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            await request.aread()
            return _httpx_answer(app, request)

    return AsyncLumaTransport()
