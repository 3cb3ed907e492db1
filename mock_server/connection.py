"""Carrying out faults below HTTP on the socket itself.

The HTTP layer renders the answer as usual and marks the WSGI environ with the `Fault`
(see `app`); this connection handler then decides what of that answer reaches the wire.
Only the kinds that need the socket are handled here — ``malformed_json`` and
``dribble`` are still well-formed HTTP, so the app renders them itself.

Every kind here ends the connection. The handler never closes the socket itself: it
sets ``close_connection`` and lets gevent's own cleanup in `WSGIHandler.handle` close
it, after the request body has been drained — closing earlier would make gevent's
cleanup trip over a closed file and log a traceback, and closing with unread input
would turn a clean close into a reset.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import struct
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import Event
from gevent.pywsgi import WSGIHandler

from .faults import ENVIRON_KEY, Fault

log = logging.getLogger("luma_mock.connection")

# SO_LINGER on with a zero timeout: close() discards the connection with a TCP RST
# instead of the FIN handshake, so the client's next read fails with ECONNRESET.
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)


class FaultyConnectionHandler(WSGIHandler):
    """gevent's WSGI handler, which breaks the answer as the environ's fault says."""

    #: Set when the server stops, so a hanging answer ends then rather than holding
    #: shutdown up for its full duration. `until` binds a server's own event.
    stopping: Event = Event()

    @classmethod
    def until(cls, stopping: Event) -> type[FaultyConnectionHandler]:
        """This handler class, with hangs cut short when ``stopping`` is set."""
        return type(cls.__name__, (cls,), {"stopping": stopping})

    def handle(self) -> None:
        # Answers go out as several small writes (head, then body); with Nagle's
        # algorithm on, a kept-alive client's delayed ACK stalls each answer ~40 ms.
        with contextlib.suppress(OSError):
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle()

    def handle_one_request(self) -> Any:
        result = super().handle_one_request()
        # A kept-alive client whose next request is already waiting would be served again
        # at once; yield first, so one busy connection cannot starve the others.
        gevent.sleep(0)
        return result

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        # gevent closes an HTTP/1.1 connection the client asked to close without saying
        # so in the answer; clients that pool connections then reuse a dead one.
        if self.close_connection and not any(k.lower() == "connection" for k, _ in headers):
            headers = [*headers, ("Connection", "close")]
        return super().start_response(status, headers, exc_info)

    def read_request(self, raw_requestline: str) -> bool:
        """gevent's parsing, plus two refusals of framing that cannot be trusted; both
        raise ValueError, which gevent answers with 400 and a close, without a traceback."""
        try:
            parsed = super().read_request(raw_requestline)
        except http.client.HTTPException as bad:  # e.g. more than 100 header lines
            raise ValueError(f"invalid request headers: {bad}") from None
        lengths = {v.strip() for v in self.headers.get_all("content-length") or []}
        if len(lengths) > 1:  # RFC 9112 6.3: conflicting lengths are a smuggling vector
            raise ValueError(f"conflicting Content-Length headers: {sorted(lengths)}")
        return parsed

    def _send_error_response_if_possible(self, error_code: int) -> None:
        # After the app has answered, a broken request body (a bad chunk size, say) must
        # end the connection, not earn a second answer to the same request.
        if self.headers_sent or self.response_length:
            self.close_connection = True
            return
        super()._send_error_response_if_possible(error_code)

    def process_result(self) -> None:
        fault = self.environ.get(ENVIRON_KEY) if self.environ else None
        carry_out = self._carriers().get(fault.kind) if isinstance(fault, Fault) else None
        if carry_out is None:
            super().process_result()
            return
        # gevent closes the connection once this answer is over (see the module doc).
        self.close_connection = True
        carry_out(fault)

    def _carriers(self) -> dict[str, Callable[[Fault], None]]:
        return {
            "reset": self._reset,
            "empty": self._empty,
            "truncated": self._truncated,
            "hang": self._hang,
        }

    def _reset(self, fault: Fault) -> None:
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)

    def _empty(self, fault: Fault) -> None:
        pass  # not a byte of the answer: the close alone is the fault

    def _truncated(self, fault: Fault) -> None:
        body = b"".join(self.result)
        if self.provided_content_length is None:
            # Announce the whole length, so the client knows it got less.
            length = str(len(body))
            self.response_headers.append((b"Content-Length", length.encode("latin-1")))
            self.provided_content_length = length
        self.write(body[: len(body) // 2])

    def _hang(self, fault: Fault) -> None:
        if self.stopping.wait(fault.seconds):
            log.info("a hanging answer was cut short by the shutdown")
