"""Serving the fake over real sockets: gevent's stream server accepts, and each
connection is one greenlet running `connection.Connection`.

Synchronous calls are held open until their task ends — a minute or two with realistic
delays — so the server must hold thousands of idle requests at once; gevent's
cooperative greenlets do that in one process (the caller monkey-patches first, see
`mock_server.cli`). SIGTERM and SIGINT stop it cleanly and it says what it dropped.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import socket
from collections.abc import Callable
from typing import Any

import gevent
import gevent.os
from flask import Flask
from gevent.event import Event
from gevent.pool import Pool
from gevent.server import StreamServer

from ..engine.config import Settings
from ..engine.fake import Fake
from ..engine.service import Engine
from .admin import is_loopback
from .app import create_app
from .connection import Connection
from .limits import Gate, Limits
from .logs import flush_logs
from .metrics import finish_in_grace
from .wire import RefusalBody, refusal_bytes
from .workers import supervisor_lifeline, worker_socket
from .wsgi import WSGIApp


def base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def banner(url: str, settings: Settings, example: str) -> str:
    """Four lines (`mock_server.harness.process` reads them): where the fake listens, its
    settings, its dashboard, and a call to try (the dialect's)."""
    off = settings.control_token is None and not is_loopback(settings.host)
    dashboard = "off (beyond loopback without a control token)" if off else f"{url}/__admin/"
    # The gateway, if on: what a paid call costs without a token (`mock_server.x402`).
    paid = f"; x402: {settings.x402_price} USDC a paid call" if settings.x402 else ""
    return (
        f"luma-mock listening on {url}\n"
        f"  clock {settings.clock}; tokens: {'any' if not settings.tokens else 'restricted'}"
        f"{paid}\n"
        f"  dashboard: {dashboard}\n"
        f"  try: {example}"
    )


def _raise_open_file_limit() -> None:
    """Each held request is an open socket: allow as many as the hard limit permits."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):  # not on this platform, or not allowed
        pass


def make_server(
    app: WSGIApp,
    host: str,
    port: int,
    stopping: Event,
    *,
    max_body: int,
    refusal_body: RefusalBody,
    limits: Limits = Limits(),  # noqa: B008 - frozen: one shared default is right
    gate: Gate | None = None,
) -> StreamServer:
    """A server for the WSGI ``app`` whose connections can carry out faults below HTTP;
    setting ``stopping`` cuts short the answers that hang, so shutdown stays prompt.
    ``refusal_body`` renders the requests the server refuses itself; ``gate`` counts the
    open connections and refuses those past its cap."""
    server: StreamServer
    gate = gate or Gate(limits, refusal_body)

    def handle(sock: socket.socket, address: Any) -> None:
        if not gate.admit():
            gate.refuse(sock)
            return
        try:
            serve_connection(sock, address)
        finally:
            gate.leave()

    def serve_connection(sock: socket.socket, address: Any) -> None:
        # Answers go out as small writes; with Nagle's algorithm on, a kept-alive
        # client's delayed ACK would stall each answer ~40 ms.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        Connection(
            sock,
            address,
            app,
            server_name=host,
            server_port=server.server_port,
            max_body=max_body,
            stopping=stopping,
            refusal_body=refusal_body,
            limits=limits,
        ).serve()

    # An unbounded pool, not gevent's default bare spawn: only with a pool does
    # stop(timeout) wait for the answers in flight instead of abandoning them.
    # A worker of `workers.Supervisor` serves the socket its supervisor bound.
    given = worker_socket()
    if given is not None:  # listening already, with the supervisor's backlog
        server = StreamServer(given, handle, spawn=Pool())
    else:
        server = StreamServer((host, port), handle, spawn=Pool(), backlog=2048)
    return server


def serve(fake: Fake | Engine, *, on_ready: Callable[[str], None] | None = None) -> int:
    """Serve ``fake`` (made by the caller; given one engine, its whole fake) on the host
    and port of its settings."""
    app = create_app(fake)
    return serve_app(app, app.extensions["luma"].settings, on_ready=on_ready)


def _stop_at_end_of_file(fd: int, stopping: Event) -> None:
    """Wait (cooperatively) for ``fd`` to read end of file, then stop."""
    gevent.os.make_nonblocking(fd)
    while gevent.os.nb_read(fd, 64):
        pass
    stopping.set()


def _settle_garbage_collector() -> None:
    """Fewer, cheaper full collections under load: everything loaded so far (Flask,
    jsonschema, the compiled schemas — hundreds of thousands of objects that live as long
    as the process) is moved out of the collector's sight, and young objects are
    collected less often. A full pass over all of them was the fake's worst latency."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 10)


def serve_app(
    app: Flask, settings: Settings, *, on_ready: Callable[[str], None] | None = None
) -> int:
    """Serve an app made by `create_app` until SIGTERM or SIGINT (tests add routes to
    the app first)."""
    _raise_open_file_limit()
    _settle_garbage_collector()
    fake: Fake = app.extensions["luma"]
    # Answered by the dialect of every path no dialect claims: the server's own refusals
    # come before any path is read, and the banner's example is that dialect's too.
    home = fake.dialect_of("/")
    stopping = Event()
    # Before the banner: whoever reads it may signal at once, and must get a clean stop.
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopping.set)
    lifeline = supervisor_lifeline()
    if lifeline is not None:  # a worker stops with its supervisor, however it dies
        gevent.spawn(_stop_at_end_of_file, lifeline, stopping)
    limits = Limits(
        settings.request_timeout or None,
        settings.idle_timeout or None,
        settings.max_connections or None,
    )
    refusal_body = refusal_bytes(home.error_body)
    gate = Gate(limits, refusal_body)
    app.extensions["luma_metrics"].gate = gate  # open connections, on /health and metrics
    server = make_server(
        app,
        settings.host,
        settings.port,
        stopping,
        max_body=settings.max_body_bytes,
        refusal_body=refusal_body,
        limits=limits,
        gate=gate,
    )
    server.start()
    url = base_url(settings.host, server.server_port)
    print(banner(url, settings, home.banner_example(url)), flush=True)
    if on_ready is not None:
        on_ready(url)
    stopping.wait()

    server.close()  # no new connections; those open are served on
    finish_in_grace(app.extensions["luma_metrics"], settings.grace)
    dropped = fake.close()  # releases held requests first, so stop() need not wait long
    server.stop(timeout=2)
    flush_logs()
    print(
        f"luma-mock stopped; dropped {dropped['running_tasks']} running task(s) and "
        f"{dropped['undelivered_callbacks']} undelivered callback(s)",
        flush=True,
    )
    return 0
