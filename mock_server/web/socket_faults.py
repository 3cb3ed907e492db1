"""Faults below HTTP, carried out on the socket of the answer they replace: a reset, an
empty close, a truncated body, a hang (what `engine.faults` plans, the connection
does)."""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Iterable

from gevent.event import Event

from ..engine.faults import Fault
from .wire import close_body

log = logging.getLogger("luma_mock.connection")

# SO_LINGER on with a zero timeout: close() discards the connection with a TCP RST
# instead of the FIN handshake, so the client's next read fails with ECONNRESET.
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)


def break_answer(
    sock: socket.socket,
    fault: Fault,
    status_line: str,
    headers: list[tuple[str, str]],
    body: Iterable[bytes],
    stopping: Event,
) -> bool:
    """Carry out a fault that needs the socket; False for the kinds that are still
    well-formed HTTP (malformed JSON, a dribble), which the app rendered itself.
    ``stopping`` cuts a hang short at shutdown."""
    if fault.kind not in ("reset", "empty", "truncated", "hang"):
        return False
    try:
        if fault.kind == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        elif fault.kind == "truncated":
            payload = b"".join(body)
            kept = [(k, v) for k, v in headers if k.lower() != "content-length"]
            kept.append(("Content-Length", str(len(payload))))  # the whole length...
            head = [f"HTTP/1.1 {status_line}\r\n".encode("latin-1")]
            head += [f"{k}: {v}\r\n".encode("latin-1") for k, v in kept]
            sock.sendall(b"".join([*head, b"\r\n", payload[: len(payload) // 2]]))
        elif fault.kind == "hang" and stopping.wait(fault.seconds):
            log.info("a hanging answer was cut short by the shutdown")
    finally:
        close_body(body)
    return True
