"""How long the server waits for a client, and how many clients it serves at once.

A fake that runs for weeks meets clients that connect and never finish a request, or
keep a connection open and never use it again; each holds a descriptor. So:

- a request's head and body must arrive within ``request_timeout`` of its first byte
  (as nginx's 60 s), else it is answered 408 in the dialect's shape and closed;
- a connection between requests (or before its first) is closed after
  ``idle_timeout`` (75 s by default, nginx's keep-alive timeout; Jetty's is 30 s);
- a write the client does not read within ``request_timeout`` ends the connection (a
  download or an event stream whose reader stopped reading);
- past ``max_connections`` open at once, a new connection is answered 503 with
  ``Retry-After`` and closed at once, so the ones admitted keep their share.

None of these bound the time an answer takes to be *made*: a held synchronous call, a
server-sent event stream and a callback in flight have limits of their own.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from .wire import DateLine, RefusalBody, json_headers

# A refused connection's unread input is drained (so that closing does not reset the
# connection before the client reads its 503) for this long, by this many at once.
REFUSAL_LINGER = 1.0
MAX_LINGERING = 256

# Descriptors kept back from the connection cap for everything else the process opens:
# the listening socket, log files, callback connections, the store's connections.
RESERVED_DESCRIPTORS = 64


@dataclass(frozen=True)
class Limits:
    """The server's timeouts (seconds; None: wait for ever) and its connection cap."""

    request_timeout: float | None = None
    idle_timeout: float | None = None
    max_connections: int | None = None

    def deadline(self, in_request: bool) -> float | None:
        """When the current wait for input ends: mid-request or between requests."""
        seconds = self.request_timeout if in_request else self.idle_timeout
        return None if seconds is None else time.monotonic() + seconds

    @staticmethod
    def until(deadline: float | None) -> float | None:
        """The socket timeout that ends a read at ``deadline`` (at once when it is past)."""
        return None if deadline is None else max(0.0, deadline - time.monotonic())


def descriptor_budget(wanted: int) -> int:
    """``wanted`` connections, or fewer when the process may not open that many files
    (each connection is one): past the limit accept() itself would fail."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, ValueError, OSError):  # not on this platform
        return wanted
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - RESERVED_DESCRIPTORS))


class Gate:
    """Counts the open connections and admits a new one only under the cap."""

    def __init__(self, limits: Limits, refusal_body: RefusalBody) -> None:
        cap = limits.max_connections
        self.cap = None if cap is None else descriptor_budget(cap)
        self.refusal_body = refusal_body
        self.open = 0  # admitted and not yet closed
        self.refused = 0  # since the start
        self.lingering = 0  # refused, draining before the close

    def admit(self) -> bool:
        if self.cap is not None and self.open >= self.cap:
            self.refused += 1
            return False
        self.open += 1
        return True

    def leave(self) -> None:
        self.open -= 1

    def refuse(self, sock: socket.socket) -> None:
        """503 in the dialect's shape with ``Retry-After: 1``, then close. The refusal
        must cost next to nothing: one send, then a short drain of what the client sent
        (closing on unread input would reset the connection, and the reset can overtake
        the answer), skipped when many refusals are draining already."""
        message = f"the fake is serving its maximum of {self.cap} connections; retry shortly"
        payload = self.refusal_body("api_error", message)
        head = [b"HTTP/1.1 503 Service Unavailable", *_header_lines(payload)]
        try:
            sock.settimeout(REFUSAL_LINGER)
            sock.sendall(b"\r\n".join(head) + payload)
            sock.shutdown(socket.SHUT_WR)  # the answer, then end of file
            if self.lingering < MAX_LINGERING:
                self.lingering += 1
                try:
                    self._drain(sock)
                finally:
                    self.lingering -= 1
        except OSError:  # gone already, or too slow to take 500 bytes: nothing to tell it
            pass
        finally:
            sock.close()

    @staticmethod
    def _drain(sock: socket.socket) -> None:
        deadline = time.monotonic() + REFUSAL_LINGER
        while sock.recv(65_536):
            sock.settimeout(max(0.001, deadline - time.monotonic()))


def _header_lines(payload: bytes) -> list[bytes]:
    lines = [f"{k}: {v}".encode() for k, v in json_headers(payload)]
    return [*lines, b"Retry-After: 1", DateLine.now().encode(), b"Connection: close", b"", b""]
