"""Sending one callback: an HTTP/1.1 POST to an address already checked, on a kept-alive
connection, the answer read with httptools (llhttp).

urllib3 did this until 1,000 callbacks due at once had to leave within 250 ms: per
request it spent ~500 µs (a liveness poll of the pooled socket through the hub, a timer
object, http.client's header parsing by the email package), capping delivery near 2,000
a second. This does only what a callback needs: no redirects, no retries (the dispatcher
retries, on the fake's clock), the body of the answer read and dropped.

httptools is the engine's only third-party import, and this module its only importer: a
client's parser for answers, not the HTTP layer's server.
"""

from __future__ import annotations

import functools
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass

import httptools

MAX_ANSWER = 1024 * 1024  # bytes of an answer read at most: the rest is not worth waiting for


class AnswerError(ConnectionError):
    """The receiver's answer could not be read as HTTP."""


@dataclass(frozen=True)
class Target:
    """Where one callback goes: the checked address to connect to, and the name the
    URL gave (for the Host header, TLS's SNI and its certificate check)."""

    address: str
    port: int
    https: bool
    host: str  # the URL's netloc, as the Host header carries it
    hostname: str


class _Answer:
    """httptools' callbacks for one answer."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.done = self.keep_alive = False
        self.size = 0

    def on_headers_complete(self) -> None:
        # Read now: once the message is complete, llhttp has reset what it knew of it.
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > MAX_ANSWER:
            raise AnswerError(f"the answer is over {MAX_ANSWER} bytes")

    def on_message_complete(self) -> None:
        self.done = True


class CallbackSender:
    """POSTs JSON to targets, keeping up to ``keep`` idle connections per target."""

    def __init__(self, keep: int = 32) -> None:
        self.keep = keep
        self._idle: dict[Target, list[socket.socket]] = {}
        self._lock = threading.Lock()

    def post(self, target: Target, path: str, body: bytes, timeout: float) -> int:
        """The answer's status; OSError (a timeout, a refusal, a reset, a broken
        answer) if there is none."""
        deadline = time.monotonic() + timeout
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {target.host}\r\n"
            "Content-Type: application/json\r\nUser-Agent: luma-mock\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1") + body
        sock = self._idle_connection(target) or self._connect(target, deadline)
        try:
            status, keep_alive = self._exchange(sock, request, deadline)
        except BaseException:
            sock.close()
            raise
        if keep_alive:
            self._put_back(target, sock)
        else:
            sock.close()
        return status

    def _exchange(self, sock: socket.socket, request: bytes, deadline: float) -> tuple[int, bool]:
        _remaining(sock, deadline)
        sock.sendall(request)
        answer = _Answer()
        parser = answer.parser
        try:
            while not answer.done:
                _remaining(sock, deadline)
                data = sock.recv(65_536)
                if not data:
                    if parser.get_status_code() and not answer.keep_alive:
                        break  # an answer whose end is the close: complete now
                    raise AnswerError("the receiver closed the connection without a whole answer")
                try:
                    parser.feed_data(data)
                except httptools.HttpParserError as bad:
                    if isinstance(bad.__context__, AnswerError):  # raised by a callback here
                        raise bad.__context__ from None
                    raise AnswerError(f"the answer is not HTTP: {bad}") from None
            return parser.get_status_code(), answer.done and answer.keep_alive
        finally:
            # The parser holds the answer's methods, the answer its parser: a cycle per
            # callback that only the collector's next full pass would free (the memory
            # that grew with every task with a callback). Broken, both go at once.
            answer.parser = None  # type: ignore[assignment]

    def _connect(self, target: Target, deadline: float) -> socket.socket:
        # Not create_connection: it would look the address up again (through a thread,
        # under gevent) although it is an address already.
        family = socket.AF_INET6 if ":" in target.address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(_left(deadline))
            sock.connect((target.address, target.port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if target.https:
                sock = _tls().wrap_socket(sock, server_hostname=target.hostname)
        except BaseException:
            sock.close()
            raise
        return sock

    def _idle_connection(self, target: Target) -> socket.socket | None:
        """A kept-alive connection the receiver has not closed meanwhile, if any."""
        while True:
            with self._lock:
                idle = self._idle.get(target)
                sock = idle.pop() if idle else None
            if sock is None or _still_open(sock):
                return sock
            sock.close()

    def _put_back(self, target: Target, sock: socket.socket) -> None:
        with self._lock:
            idle = self._idle.setdefault(target, [])
            if len(idle) < self.keep and len(self._idle) <= 256:
                idle.append(sock)
                return
        sock.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for sockets in idle.values():
            for sock in sockets:
                sock.close()


@functools.cache
def _tls() -> ssl.SSLContext:
    """The system's trusted certificates, loaded on the first https callback (~40 ms:
    too long to pay each time a fake starts)."""
    return ssl.create_default_context()


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


def _remaining(sock: socket.socket, deadline: float) -> None:
    sock.settimeout(_left(deadline))


def _still_open(sock: socket.socket) -> bool:
    """Whether an idle connection is still usable: nothing to read yet (a receiver that
    closed it, or sent something unasked, makes it unusable). No waiting."""
    if isinstance(sock, ssl.SSLSocket):  # TLS cannot peek: is the socket readable at all?
        return not select.select([sock], [], [], 0)[0] and not sock.pending()
    try:
        sock.setblocking(False)
        try:
            sock.recv(1, socket.MSG_PEEK)
        finally:
            sock.setblocking(True)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False
