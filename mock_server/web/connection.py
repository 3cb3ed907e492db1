"""One HTTP/1.1 connection of the fake's server: requests parsed by httptools (llhttp,
the parser of Node.js), each handed whole to the WSGI app, its answer written back — or
broken on the socket, as the `Fault` the app left in the environ says.

Why not gevent's own WSGI server: measured on a 2-core machine, pywsgi spends ~140 µs of
Python per request before the app runs (7,000 answers a second for an empty app); this
loop, kernel included, ~25 µs (38,000-43,000). The fake's hot calls cost less than
pywsgi's overhead.

What the loop guarantees, whatever arrives: framing is llhttp's (conflicting lengths,
smuggling forms and bad chunks are refused), a request is answered only once it is
whole, each request gets exactly one answer, and every refusal is the dialect's error
body followed by a close. The app never sees a request over the body limit, with
more than `MAX_HEADERS` headers, or with a head over `MAX_HEAD` bytes.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

import gevent
import httptools
from gevent.event import Event

from ..engine.faults import ENVIRON_KEY, Fault
from .limits import Limits
from .socket_faults import break_answer
from .wire import (
    LINGER_BYTES,
    LINGER_SECONDS,
    MAX_HEAD,
    MAX_HEADERS,
    READ_SIZE,
    DateLine,
    Refusal,
    RefusalBody,
    Request,
    close_body,
    json_headers,
    no_write,
    parse_refusal,
)
from .wsgi import WSGIApp, add_header, request_environ

log = logging.getLogger("luma_mock.connection")


class Connection:
    """Reads, answers and finally closes one accepted socket (``serve`` does it all)."""

    def __init__(
        self,
        sock: socket.socket,
        address: Any,
        app: WSGIApp,
        *,
        server_name: str,
        server_port: int,
        max_body: int,
        stopping: Event,
        refusal_body: RefusalBody,
        limits: Limits = Limits(),  # noqa: B008 - frozen: one shared default is right
    ) -> None:
        self.sock = sock
        self.app = app
        self.refusal_body = refusal_body  # the dialect's error body, as bytes
        self.max_body = max_body
        self.stopping = stopping  # set at shutdown: a hanging answer ends then
        remote = address if isinstance(address, tuple) else ("", "")
        self.remote = (str(remote[0]), str(remote[1]))
        self._started: tuple[str, list[tuple[str, str]]] | None = None
        self.server = (server_name, str(server_port))
        self.parser = httptools.HttpRequestParser(self)
        self.current = Request()
        self.complete: list[Request] = []
        self.head_bytes = 0  # read since the current request's head began
        self.head_size = 0  # of its request line and headers, as parsed
        self.body_bytes = 0
        self.in_message = False  # between a request's first byte and its last
        self.in_head = False
        self.refusal: Refusal | None = None
        self.open = True
        self.limits = limits
        self.deadline = limits.deadline(in_request=False)  # of the wait for input

    # -- llhttp's callbacks ---------------------------------------------------------

    def on_message_begin(self) -> None:
        self.current = Request()
        self.in_message = self.in_head = True
        self.deadline = self.limits.deadline(in_request=True)
        self.body_bytes = self.head_size = 0

    def on_url(self, url: bytes) -> None:
        self.current.url += url
        self._count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        request = self.current
        request.header_count += 1
        if request.header_count > MAX_HEADERS:
            self._refuse(400, "bad_request", f"a request may carry at most {MAX_HEADERS} headers")
        self._count_head(len(name) + len(value))
        key = add_header(request.headers, name, value)
        if key == "HTTP_EXPECT" and value.lower() == b"100-continue":
            request.expect_continue = True
        elif key == "CONTENT_LENGTH" and int(value) > self.max_body:
            self._too_large()  # llhttp has checked that it is a number

    def _count_head(self, size: int) -> None:
        self.head_size += size
        if self.head_size > MAX_HEAD:
            self._refuse(400, "bad_request", f"the request head is over {MAX_HEAD} bytes")

    def on_headers_complete(self) -> None:
        request, parser = self.current, self.parser
        self.in_head = False
        self.head_bytes = 0
        request.method = parser.get_method().decode("ascii")
        request.version = parser.get_http_version()
        request.keep_alive = parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        if self.body_bytes > self.max_body:  # a chunked body has no length to refuse early
            self._too_large()
        self.current.body.append(body)

    def on_message_complete(self) -> None:
        self.in_message = False
        self.complete.append(self.current)

    def _refuse(self, status: int, code: str, message: str) -> None:
        self.refusal = Refusal(status, code, message)
        raise self.refusal

    def _too_large(self) -> None:
        self._refuse(413, "request_too_large", f"the request body is over {self.max_body} bytes")

    # -- the loop ---------------------------------------------------------------------

    def serve(self) -> None:
        try:
            while self.open:
                data = self._receive()
                if data is None:  # timed out, and dealt with
                    return
                if not data:
                    self._end_of_input()
                    return
                self._feed(data)
        except OSError:  # the client went away mid-answer: nothing left to tell it
            pass
        finally:
            self._close()

    def _receive(self) -> bytes | None:
        """The next read, or None when the request (or the idle connection) ran out of
        time: a request cut short is told so (408), an idle connection just closed."""
        self.sock.settimeout(self.limits.until(self.deadline))
        try:
            return self.sock.recv(READ_SIZE)
        except TimeoutError:
            if self.in_message:
                seconds = self.limits.request_timeout
                message = f"the request did not arrive within {seconds:g} s"
                self._refuse_and_close(Refusal(408, "request_timeout", message))
            return None
        finally:  # writes: a client that stops reading for that long is gone
            self.sock.settimeout(self.limits.request_timeout)

    def _feed(self, data: bytes) -> None:
        if self.in_head or not self.in_message:
            self.head_bytes += len(data)
        refusal: Refusal | None = None
        upgrade = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            upgrade = True  # answered like any request (no upgrade is offered), then closed
        except httptools.HttpParserInvalidMethodError:
            # llhttp knows the registered methods only, as Node.js does: another token
            # ("BREW") cannot be parsed further, so it cannot get a 405 with Allow.
            refusal = Refusal(400, "bad_request", f"unknown HTTP method{self._token(data)}")
        except httptools.HttpParserError as error:
            refusal = self.refusal or parse_refusal(error)
        if refusal is None and self.in_head and self.head_bytes > MAX_HEAD:
            refusal = Refusal(400, "bad_request", f"the request head is over {MAX_HEAD} bytes")
        batch = len(self.complete)
        while self.complete and self.open:
            self._answer(self.complete.pop(0))
        if batch:  # the wait for input starts again now, however long the answers took
            self.deadline = self.limits.deadline(in_request=self.in_message)
        if refusal is not None:
            self._refuse_and_close(refusal)
        elif upgrade and self.open:
            self._close_gracefully()  # what follows is not HTTP any more
        elif self.in_message and not self.in_head and self.current.expect_continue:
            # Its head is read, its body not yet: the client waits to be told to send it.
            self.current.expect_continue = False
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if self.open and batch:
            # Yield after answering, so that what the request made ready runs before
            # this connection reads on: a woken held call, a callback to send, the other
            # connections (a client that keeps sending must not starve them).
            gevent.sleep(0)

    def _token(self, data: bytes) -> str:
        """The unknown method, quoted, when ``data`` starts with it (it does unless
        earlier requests were pipelined in the same read)."""
        if self.complete:
            return ""
        token = data.lstrip(b"\r\n").split(b" ", 1)[0][:32].decode("latin-1")
        return f" {token!r}"

    def _end_of_input(self) -> None:
        """The client closed its side. A request it left unfinished (a body shorter than
        its length, a missing last chunk) gets its 400: a client that half-closed may
        still be reading."""
        if self.in_message:
            self._refuse_and_close(Refusal(400, "bad_request", "the request ended unfinished"))

    # -- answering --------------------------------------------------------------------

    def _answer(self, request: Request) -> None:
        environ = request_environ(
            request.method,
            request.url,
            request.headers,
            b"".join(request.body),
            server=self.server,
            remote=self.remote,
            version=request.version,
        )
        status_line, headers, body, fault = self._call_app(environ)
        status = int(status_line[:3])
        # HEAD, 1xx, 204 and 304 answers have no body, whatever the app returned.
        head_only = request.method == "HEAD" or status < 200 or status in (204, 304)
        broken = fault is not None and break_answer(
            self.sock, fault, status_line, headers, body, self.stopping
        )
        if broken:
            self.open = False
            return
        # One pass over the app's headers: the head as text, and what framing they ask.
        lines = [f"HTTP/1.1 {status_line}", DateLine.now()]
        length = said_connection = None
        close = not request.keep_alive
        for name, value in headers:
            lines.append(f"{name}: {value}")
            lowered = name.lower()
            if lowered == "content-length":
                length = value
            elif lowered == "connection":
                said_connection = True
                close = close or "close" in value.lower()
        chunked = length is None and not head_only and request.version == "1.1"
        if chunked:
            lines.append("Transfer-Encoding: chunked")
        elif length is None and not head_only:
            close = True  # HTTP/1.0 and no length: the close ends the body
        if close and not said_connection:
            lines.append("Connection: close")
        lines += ("", "")
        self._write(("\r\n".join(lines)).encode("latin-1"), body, head_only, chunked)
        if close:
            self._close_gracefully()

    def _call_app(
        self, environ: dict[str, Any]
    ) -> tuple[str, list[tuple[str, str]], Iterable[bytes], Fault | None]:
        self._started = None
        try:
            body = self.app(environ, self._start_response)
            if self._started is None:  # the app defers start_response to its first piece
                body = list(body)
        except Exception:  # the app renders its own errors; this is a bug in it
            log.exception(
                "the app failed on %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"]
            )
            payload = self.refusal_body("api_error", "internal error in the fake (see its log)")
            return "500 Internal Server Error", json_headers(payload), [payload], None
        assert self._started is not None
        fault = environ.get(ENVIRON_KEY)
        return *self._started, body, fault if isinstance(fault, Fault) else None

    def _start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        self._started = (status, headers)
        return no_write

    def _write(self, head: bytes, body: Iterable[bytes], head_only: bool, chunked: bool) -> None:
        try:
            if head_only:
                self._send(head)
            elif isinstance(body, list) and not chunked:  # the usual case: one write
                self._send(head + b"".join(body))
            else:
                self._send(head)
                for piece in body:  # a stream (a file, a dribble): as it comes
                    if piece:
                        self._send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                if chunked:
                    self._send(b"0\r\n\r\n")
        finally:
            close_body(body)

    def _send(self, data: bytes) -> None:
        # One send() is all a small answer takes; gevent's sendall() first asks the
        # kernel for the buffer size, a system call per answer.
        sent = self.sock.send(data)
        if sent < len(data):
            self.sock.sendall(memoryview(data)[sent:])

    # -- closing ----------------------------------------------------------------------

    def _refuse_and_close(self, refusal: Refusal) -> None:
        payload = self.refusal_body(refusal.code, refusal.message)
        head = [f"HTTP/1.1 {refusal.status} {HTTPStatus(refusal.status).phrase}".encode()]
        head += [f"{k}: {v}".encode() for k, v in json_headers(payload)]
        head += [DateLine.now().encode(), b"Connection: close", b"", b""]
        with contextlib.suppress(OSError):
            self.sock.sendall(b"\r\n".join(head) + payload)
        self._close_gracefully()

    def _close_gracefully(self) -> None:
        """Close after an answer without turning unread input into a reset that could
        overtake the answer: stop sending, then drain what the client still sends (for a
        bounded time and size)."""
        self.open = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
            drained = 0
            with gevent.Timeout(LINGER_SECONDS, False):
                while drained < LINGER_BYTES:
                    data = self.sock.recv(READ_SIZE)
                    if not data:
                        break
                    drained += len(data)

    def _close(self) -> None:
        self.open = False
        with contextlib.suppress(OSError):
            self.sock.close()
        # The parser holds this connection's methods: a cycle the collector would free
        # only at its next full pass. Broken, a closed connection goes at once.
        self.parser = None  # type: ignore[assignment]
