"""A callback receiver a test stands up in one line: a real HTTP server on loopback that
records every POST, answers as scripted, and lets the test wait for deliveries instead
of sleeping.

    with CallbackReceiver() as receiver:
        ...  # send callbacks to receiver.url
        body = receiver.wait_for(task_id)
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ReceivedCallback:
    path: str
    headers: dict[str, str]
    body: Any
    status: int  # what the receiver answered

    @property
    def task_id(self) -> str | None:
        return self.body.get("task_id") if isinstance(self.body, dict) else None


class _Endpoint(ThreadingHTTPServer):
    """The receiver's server: a deep listen queue, since a fake lets many callbacks fall
    due at once (the standard library's 5 would drop connection attempts, and a dropped
    SYN is sent again only a second later); a sender gone mid-request (killed, or given
    up at its timeout) is its own business, not a traceback on the test's output."""

    request_queue_size = 1024
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class CallbackReceiver:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.received: list[ReceivedCallback] = []
        self._script: list[int] = []
        self._changed = threading.Condition()
        self._server = _Endpoint((host, port), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/callback"

    def answer(self, *statuses: int) -> None:
        """Answer the next callbacks with these statuses, in order; then 200 again."""
        with self._changed:
            self._script.extend(statuses)

    def accepted(self) -> list[ReceivedCallback]:
        with self._changed:
            return self._accepted()

    def wait_for(self, task_id: str, timeout: float = 10.0) -> Any:
        """The body of the first accepted callback for ``task_id``, waiting for it."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((r for r in self._accepted() if r.task_id == task_id), None),
                timeout,
            )
        if found is None:
            raise TimeoutError(f"no callback for task {task_id} within {timeout} s")
        return found.body

    def wait_count(self, count: int, timeout: float = 10.0) -> list[ReceivedCallback]:
        """Wait until ``count`` callbacks (accepted or not) have arrived."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout):
                raise TimeoutError(f"{len(self.received)} of {count} callbacks within {timeout} s")
            return list(self.received)

    def _accepted(self) -> list[ReceivedCallback]:
        return [r for r in self.received if 200 <= r.status < 300]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> CallbackReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _record(self, path: str, headers: dict[str, str], raw: bytes) -> int:
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._changed:
            status = self._script.pop(0) if self._script else 200
            self.received.append(ReceivedCallback(path, headers, body, status))
            self._changed.notify_all()
        return status

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                status = receiver._record(self.path, dict(self.headers.items()), raw)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the test reads `received`, not a log

        return Handler
