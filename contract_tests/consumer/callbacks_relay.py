"""The recording proxy's callback receiver: the client's ``callback_url`` is swapped for
one of the proxy's own (``<base>/__luma-mock/callbacks/<token>``) before a create is
forwarded, so the provider's deliveries come here. Each one is forwarded to the client's
URL — under the fake's own policy (`engine.callbacks.TargetPolicy`: no link-local or
metadata address) with its sender and per-attempt timeout — recorded as a ``callback``
line, and answered with the client's status (502 if the client could not be reached),
so the provider retries exactly as it would have.

Where the provider echoes the URL (a task record's ``request``, a callback body), the
client sees its own URL again: `echo`.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mock_server.cassettes.format import encode_body
from mock_server.engine.callbacks import RetryPolicy, TargetPolicy, TargetRefused
from mock_server.engine.sender import CallbackSender

from .dialect import recording_of

PREFIX = "/__luma-mock/callbacks/"


@dataclass(frozen=True)
class Receiver:
    """One create's callback: where the client wanted it, in which dialect."""

    token: str
    client_url: str
    dialect: str


# (dialect, task, body) of each delivery, once recorded: the recorder fetches its media.
Delivered = Callable[[str, str | None, Any], None]


class CallbackRelay:
    """Receives the provider's callbacks and forwards them (see the module doc).
    ``base``: the proxy's URL as the provider reaches it; ``record``: writes one
    callback line (given without ``seq``)."""

    def __init__(
        self,
        base: Callable[[], str],
        record: Callable[[dict[str, Any]], None],
        clock: Callable[[], float],
        redact_headers: Callable[[dict[str, str]], dict[str, str]],
        redact_body: Callable[[dict[str, Any] | None], dict[str, Any] | None],
        redact_url: Callable[[str], str],
        delivered: Delivered,
        policy: TargetPolicy | None = None,
        timeout: float = RetryPolicy().timeout,
    ) -> None:
        self._base = base
        self._record = record
        self._clock = clock
        self._redact_headers = redact_headers
        self._redact_body = redact_body
        self._redact_url = redact_url
        self._delivered = delivered
        self.policy = policy or TargetPolicy()
        self.timeout = timeout
        self._sender = CallbackSender()
        self._receivers: dict[str, Receiver] = {}
        self._attempts: dict[str, int] = {}  # by task and state
        self._lock = threading.Lock()

    def receiver_for(self, client_url: str, dialect: str) -> str:
        """A fresh receiver URL standing for ``client_url``."""
        token = secrets.token_urlsafe(12)
        with self._lock:
            self._receivers[token] = Receiver(token, client_url, dialect)
        return self._base().rstrip("/") + PREFIX + token

    def echo(self, content: bytes) -> bytes:
        """``content`` with each receiver URL in it put back to the client's own (also
        as JSON writes it with escaped slashes)."""
        if PREFIX.encode() not in content and PREFIX.replace("/", "\\/").encode() not in content:
            return content
        base = self._base().rstrip("/")
        with self._lock:
            receivers = list(self._receivers.values())
        for receiver in receivers:
            ours = base + PREFIX + receiver.token
            for form, theirs in (
                (ours, receiver.client_url),
                (ours.replace("/", "\\/"), receiver.client_url.replace("/", "\\/")),
            ):
                content = content.replace(form.encode(), theirs.encode())
        return content

    def deliver(
        self, token: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """One delivery attempt from the provider: forwarded, recorded, answered."""
        with self._lock:
            receiver = self._receivers.get(token)
        if receiver is None:
            body = json.dumps({"error": "no such callback receiver"}).encode()
            return 404, [("Content-Type", "application/json")], body
        at = self._clock()
        started = time.perf_counter()
        raw = self.echo(raw)
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        task, state = recording_of(receiver.dialect).callback_task(parsed)
        # A provider may call back at each state (Dream Machine does): a retry is the
        # same task in the same state again.
        with self._lock:
            key = f"{task or 'receiver:' + token}|{state}"
            attempt = self._attempts[key] = self._attempts.get(key, 0) + 1
        status, error = self._forward(receiver.client_url, raw)
        content_type = headers.get("content-type")
        self._record(
            {
                "type": "callback",
                "at": round(at, 6),
                "dialect": receiver.dialect,
                "task": task,
                "state": state,  # the scenarios read a task's end from it, if no poll saw it
                "attempt": attempt,
                "request": {
                    "method": "POST",
                    "headers": self._redact_headers(headers),
                    "body": self._redact_body(encode_body(raw, content_type)),
                },
                "forwarded_to": self._redact_url(receiver.client_url),
                "response": None if status is None else {"status": status},
                "error": error,
                "duration": round(time.perf_counter() - started, 6),
            }
        )
        self._delivered(receiver.dialect, task, parsed)
        if status is None:
            body = json.dumps({"error": f"the client was not reached: {error}"}).encode()
            return 502, [("Content-Type", "application/json")], body
        return status, [("Content-Type", "text/plain")], b""

    def _forward(self, url: str, body: bytes) -> tuple[int | None, str | None]:
        """The client's status, or None and why it was not reached."""
        try:
            target, path = self.policy.connect_to(url)
            return self._sender.post(target, path, body, self.timeout), None
        except TargetRefused as refusal:
            return None, f"refused: {refusal}"
        except OSError as failure:
            return None, f"{type(failure).__name__}: {failure}"
