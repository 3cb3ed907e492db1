"""The validating proxy: a local server that forwards every request to a target (the
real service, or a fake), checks the request and the answer against the contract, and
records both — so real traffic shows contract drift as it happens.

    with ValidatingProxy(pack(name).real_service, max_billable=2) as proxy:
        client = make_client(base_url=proxy.url)   # the application, unchanged
        ...
        assert all(x.ok for x in proxy.exchanges)

The traffic's dialect is the one given, or else each request's: the dialect whose path
prefix it is under (`contract.packs.pack_for_path`), the one served at the root
otherwise; what the contract says of an exchange is that dialect's (its ``verdicts``
module). Generations cost credits, so a cap on billable requests (each dialect's
``billable`` calls) can be set: past it the proxy answers 429 ``too_many_requests`` in
the dialect's error shape itself, forwards nothing, and says so. Each exchange is kept in
memory, optionally appended to a JSON-lines file (``--record``: the verdict lines), and
can be echoed as one line: its method, path, status and verdict. With a `Recorder`
(``--cassette``) it also writes a cassette of the session: headers, bodies, timing,
the provider's callbacks through a receiver of its own, and the media of finished tasks.

It is a threaded WSGI server on a real socket (werkzeug's, as Flask's tests use): each
held synchronous call waits on its own thread, and nothing needs gevent's patching.
What the contract says of each exchange is in `verdicts`.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import requests
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ..contract.packs import Pack, default_pack, pack, pack_for_path
from .dialect import verdicts_of
from .recorder import ACCEPT_ENCODING, Recorder, finish, recorder_from_args
from .verdicts import BodyVerdict, Exchange, parse

CAP_HEADER = "X-Luma-Mock-Proxy"
# Hop-by-hop headers (RFC 9110 §7.6.1) and those the forwarding recomputes.
_NOT_FORWARDED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",  # requests has already decoded the body
    }
)


# -- the proxy ------------------------------------------------------------------------------


class ValidatingProxy:
    """Forwards to ``target``, checks and records each exchange; see the module doc."""

    def __init__(
        self,
        target: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_billable: int | None = None,
        record: str | Path | None = None,
        echo: Callable[[Exchange], None] | None = None,
        timeout: float = 900.0,  # a sync call may be held for the body's timeout (≤ 900 s)
        dialect: str | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        """``dialect``: the API all the traffic speaks; None: each request's, by its path.
        ``recorder``: writes a cassette of the session (`recorder`)."""
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"the target must be an http(s) URL, not {target!r}")
        if max_billable is not None and max_billable < 0:
            raise ValueError("max_billable must be 0 or more")
        self.target = target.rstrip("/")
        self.dialect: Pack | None = pack(dialect) if dialect is not None else None
        self.max_billable = max_billable
        self.echo = echo
        self.timeout = timeout
        self.recorder = recorder
        self.billable_forwarded = 0
        self._exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._server: BaseWSGIServer = make_server(
            host, port, self, threaded=True, request_handler=_QuietHandler
        )
        self._thread: threading.Thread | None = None
        self._session = requests.Session()
        self._record: IO[str] | None = None
        if record is not None:
            self._record = open(record, "a", encoding="utf-8")  # noqa: SIM115 - closed in stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    @property
    def drifted(self) -> list[Exchange]:
        return [x for x in self.exchanges if not x.ok]

    def start(self) -> ValidatingProxy:
        if self.recorder is not None and not self.recorder.base:
            self.recorder.base = self.url  # the provider calls back here
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="luma-proxy",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()
        self._session.close()
        with self._lock:
            if self._record is not None:
                self._record.close()
                self._record = None

    def __enter__(self) -> ValidatingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- WSGI ----------------------------------------------------------------------

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        at = self.recorder.clock() if self.recorder is not None else 0.0
        method = environ["REQUEST_METHOD"]
        # Runs of slashes read as one, as the services do: a client's base URL ending in a
        # slash makes every path start with two, and its creates are billable too.
        path = re.sub("/{2,}", "/", environ.get("PATH_INFO", "") or "/")
        query = environ.get("QUERY_STRING", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        if self.recorder is not None and self.recorder.is_callback(path):
            lowered = {k.lower(): v for k, v in _request_headers(environ)}
            status, headers, content = self.recorder.callback(path, lowered, raw)
            start_response(f"{status} {_reason(status)}", headers)
            return [content]
        request, _ = parse(raw)
        speaks = self.speaks(path)
        billable = speaks.is_billable(method, path)

        received: dict[str, str] = {}
        if billable and not self._admit():
            status, headers, content = self._capped(speaks)
            forwarded, note = False, f"billable cap of {self.max_billable} reached; not forwarded"
        else:
            status, headers, content, note, received = self._forward(
                speaks, environ, method, path, query, raw
            )
            forwarded = True

        answer, is_json = parse(content)
        verdicts = verdicts_of(speaks.name)
        # The proxy's own answers (capped, target unreachable) are not the service's.
        own = not forwarded or bool(note)
        exchange = Exchange(
            at=time.time(),
            method=method,
            path=path,
            status=status,
            request=request,
            answer=answer,
            request_verdict=verdicts.request_verdict(method, path, request),
            answer_verdict=BodyVerdict()
            if own
            else verdicts.answer_verdict(method, path, request, status, answer, is_json, content),
            forwarded=forwarded,
            billable=billable,
            note=note,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        self._keep(exchange)
        if self.recorder is not None:
            self.recorder.exchange(
                speaks,
                method=method,
                path=path,
                query=query,
                request_headers=dict(_request_headers(environ)),
                request=raw,
                status=status,
                response_headers=received or dict(headers),
                content=content,
                at=at,
                duration=time.perf_counter() - started,
                own=own,
            )
        start_response(f"{status} {_reason(status)}", headers)
        return [content]

    def speaks(self, path: str) -> Pack:
        """The dialect of a request: the proxy's, or the one whose prefix ``path`` is under."""
        return self.dialect or pack_for_path(path) or default_pack()

    def _error(self, speaks: Pack, code: str, message: str) -> bytes:
        """The proxy's own error, in the dialect's shape."""
        return json.dumps(verdicts_of(speaks.name).error_body(code, message)).encode()

    def _admit(self) -> bool:
        with self._lock:
            if self.max_billable is not None and self.billable_forwarded >= self.max_billable:
                return False
            self.billable_forwarded += 1
            return True

    def _capped(self, speaks: Pack) -> tuple[int, list[tuple[str, str]], bytes]:
        message = (
            f"luma-mock proxy: the cap of {self.max_billable} billable request(s) is reached; "
            "this request was not forwarded"
        )
        content = self._error(speaks, "too_many_requests", message)
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(content))),
            (CAP_HEADER, "capped"),
        ]
        return 429, headers, content

    def _forward(
        self,
        speaks: Pack,
        environ: dict[str, Any],
        method: str,
        path: str,
        query: str,
        raw: bytes,
    ) -> tuple[int, list[tuple[str, str]], bytes, str, dict[str, str]]:
        """The answer (its body decoded), the proxy's note if it is its own, and the
        headers as the target sent them."""
        headers = {
            name: value
            for name, value in _request_headers(environ)
            if name.lower() not in _NOT_FORWARDED
        }
        # Only encodings requests decodes: the body is passed on decoded (and recorded).
        headers = {k: v for k, v in headers.items() if k.lower() != "accept-encoding"}
        headers["Accept-Encoding"] = ACCEPT_ENCODING
        if self.recorder is not None:
            raw = self.recorder.outgoing(speaks, method, path, raw)
        url = self.target + path + (f"?{query}" if query else "")
        try:
            answer = self._session.request(
                method,
                url,
                data=raw or None,
                headers=headers,
                timeout=(10, self.timeout),
                allow_redirects=False,
            )
        except requests.RequestException as error:
            # The documented envelope, so a client reads it as the error it is; 502
            # because it is the proxy's own answer, not the service's.
            note = f"the target did not answer: {type(error).__name__}"
            content = self._error(speaks, "api_error", f"luma-mock proxy: {note}")
            return 502, [("Content-Type", "application/json")], content, note, {}
        content = answer.content
        if self.recorder is not None:
            content = self.recorder.incoming(content)
        back = [(k, v) for k, v in answer.headers.items() if k.lower() not in _NOT_FORWARDED]
        back.append(("Content-Length", str(len(content))))
        return answer.status_code, back, content, "", dict(answer.headers)

    def _keep(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)
            if self._record is not None:
                self._record.write(json.dumps(exchange.as_dict(), ensure_ascii=False) + "\n")
                self._record.flush()
        if self.echo is not None:
            self.echo(exchange)


def _request_headers(environ: dict[str, Any]) -> Iterable[tuple[str, str]]:
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            yield key[5:].replace("_", "-").title(), value
    if environ.get("CONTENT_TYPE"):
        yield "Content-Type", environ["CONTENT_TYPE"]


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's handler without its access log: the proxy prints its own lines."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


# -- luma-mock proxy (arguments in mock_server.cli) ---------------------------------------


def main(args: argparse.Namespace) -> int:
    """Run until SIGTERM or Ctrl-C; exit 3 if the cassette's scan found a secret on
    disk, else 1 if any exchange drifted from the contract."""
    echo = lambda x: print(x.line(), flush=True)  # noqa: E731
    name = getattr(args, "dialect", None)
    target = args.target or (pack(name).real_service if name else None)
    if not target:
        print(
            "luma-mock proxy: --target is required without --dialect (whose real service "
            "is the default target)",
            file=sys.stderr,
        )
        return 2
    try:
        recorder = recorder_from_args(args, target)
        proxy = ValidatingProxy(
            target,
            host=args.host,
            port=args.port,
            max_billable=args.max_billable,
            record=args.record,
            echo=echo,
            dialect=name,
            recorder=recorder,
        )
    except (ValueError, OSError) as bad:
        print(f"luma-mock proxy: {bad}", file=sys.stderr)
        return 2
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    proxy.start()
    cap = "no cap" if args.max_billable is None else f"at most {args.max_billable} billable"
    print(f"luma-mock proxy on {proxy.url} -> {proxy.target} ({cap})", flush=True)
    while not stopping.wait(0.5):  # a timed wait keeps the main thread able to take signals
        pass
    proxy.stop()
    seen = proxy.exchanges
    capped = sum(1 for x in seen if not x.forwarded)
    drifted = len(proxy.drifted)
    print(
        f"luma-mock proxy stopped: {len(seen)} exchange(s), {drifted} with contract drift, "
        f"{capped} capped",
        flush=True,
    )
    leaked = finish(recorder) if recorder is not None else 0  # 3: a secret is on disk
    return leaked or (1 if drifted else 0)
