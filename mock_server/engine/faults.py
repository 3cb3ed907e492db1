"""Faults below HTTP: the answer to a request is lost or damaged on its way back.

The engine decides a fault (a scenario rule says so) *after* it has processed the
request — so a task may exist although its creator never heard of it, which is exactly
what a client that retries blindly must survive. It raises `ConnectionFault` carrying
the answer it would have sent; the HTTP layer marks the WSGI environ with the fault and
the server's connection handler carries it out on the socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = {
    "reset": "the connection is reset (TCP RST) before any byte of the answer",
    "empty": "the connection is closed before any byte of the answer (an empty reply)",
    "malformed_json": "a 200 whose JSON body is cut off mid-document",
    "truncated": "the answer's body ends before its Content-Length, then the connection closes",
    "dribble": "the whole, valid answer, a few bytes at a time over `seconds`",
    "hang": "no answer at all for `seconds`, then the connection closes",
}

ENVIRON_KEY = "luma_mock.fault"


@dataclass(frozen=True)
class Fault:
    kind: str
    seconds: float = 30.0  # how long a hang lasts, or how long a dribble takes

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; known: {', '.join(KINDS)}")
        if self.seconds < 0:
            raise ValueError("a fault's seconds cannot be negative")


class ConnectionFault(Exception):
    """The request was handled, but its answer must not reach the client intact."""

    def __init__(self, fault: Fault, status: int, answer: dict[str, Any]) -> None:
        super().__init__(f"{fault.kind} fault on an answer with status {status}")
        self.fault = fault
        self.status = status
        self.answer = answer
