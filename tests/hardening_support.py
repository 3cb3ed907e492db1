"""Helpers for the hardening tests: raw HTTP over a socket, the control API of a live
fake, and callback receivers that misbehave on purpose (slow, refusing, resetting, down
for a while).

Everything here talks to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from contract_tests.contract import check, error_codes
from tests.support import LiveServer

LOOPBACK = "127.0.0.1"

# SO_LINGER on with a zero timeout: close() sends a TCP RST instead of a FIN.
RESET_ON_CLOSE = struct.pack("ii", 1, 0)


def port_of(server: LiveServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


# -- answers in the contract ------------------------------------------------------------


def assert_error_envelope(status: int, body: Any) -> dict[str, Any]:
    """``body`` is the documented error envelope, with the code that ``status`` carries."""
    verdict = check("acedata/error", body)
    assert verdict.ok, f"not the error envelope ({verdict.message}): {body!r}"
    code = body["error"]["code"]
    assert error_codes("acedata/error")[code].status == status, (
        f"{code} answered with HTTP {status}"
    )
    return body


def assert_still_serving(server: LiveServer) -> None:
    health = requests.get(server.url + "/health", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"


def write_config(path: Path, **values: Any) -> Path:
    """A ``luma-mock`` TOML config file with these settings (numbers, strings, booleans)."""
    lines = ["[luma-mock]"]
    for name, value in values.items():
        lines.append(f"{name} = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- raw HTTP over a socket -----------------------------------------------------------


@dataclass(frozen=True)
class RawAnswer:
    """One HTTP answer parsed off the wire."""

    status: int
    headers: dict[str, str]  # names lowercased
    body: bytes

    @property
    def is_json(self) -> bool:
        return self.headers.get("content-type", "").startswith("application/json")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class RawExchange:
    """Everything the server sent back on one connection, and how the connection ended."""

    data: bytes
    reset: bool = False
    timed_out: bool = False

    @property
    def answers(self) -> list[RawAnswer]:
        return parse_answers(self.data)

    @property
    def first(self) -> RawAnswer:
        answers = self.answers
        assert answers, f"no HTTP answer at all: {self.data[:200]!r}"
        return answers[0]


class _Unclosable(io.BytesIO):
    def close(self) -> None:
        pass  # HTTPResponse closes its file after each answer; the next one follows


class _Wire:
    """Just enough of a socket for `http.client.HTTPResponse` to read from bytes."""

    def __init__(self, stream: io.BytesIO) -> None:
        self.stream = stream

    def makefile(self, *args: Any, **kwargs: Any) -> io.BytesIO:
        return self.stream


def parse_answers(data: bytes) -> list[RawAnswer]:
    """Every HTTP answer in ``data``, in order (several if the server sent several)."""
    stream = _Unclosable(data)
    answers = []
    while stream.tell() < len(data):
        response = http.client.HTTPResponse(_Wire(stream))  # type: ignore[arg-type]
        try:
            response.begin()
            body = response.read()
        except (http.client.HTTPException, ValueError):
            break
        headers = {name.lower(): value for name, value in response.getheaders()}
        answers.append(RawAnswer(response.status, headers, body))
    return answers


def raw_exchange(
    server: LiveServer, payload: bytes, *, half_close: bool = True, timeout: float = 10.0
) -> RawExchange:
    """Send ``payload`` as it is on a fresh connection, optionally say we are done sending
    (a body shorter than its Content-Length then ends here), and read until the server
    closes the connection."""
    received = bytearray()
    with socket.create_connection((LOOPBACK, port_of(server)), timeout=timeout) as raw:
        try:
            raw.sendall(payload)
            if half_close:
                with contextlib.suppress(OSError):  # the server may have closed already
                    raw.shutdown(socket.SHUT_WR)
            while chunk := raw.recv(65536):
                received += chunk
        except (ConnectionResetError, BrokenPipeError):
            return RawExchange(bytes(received), reset=True)
        except TimeoutError:
            return RawExchange(bytes(received), timed_out=True)
    return RawExchange(bytes(received))


def http_request(
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    extra_lines: list[bytes] | None = None,
    close: bool = True,
) -> bytes:
    """A request as bytes (``Connection: close`` unless ``close`` is false, which leaves
    HTTP/1.1's keep-alive); ``extra_lines`` go in verbatim."""
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in (headers or {}).items()]
    lines += extra_lines or []
    if close:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def chunked(body: bytes, size: int = 65536) -> bytes:
    """``body`` in HTTP/1.1 chunked transfer coding, terminating chunk included."""
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


# -- the control API of a live fake ---------------------------------------------------


class Control:
    """``/__admin/`` of a live fake, with the names of the Python control side. Each
    call is a request of its own (no shared session), so any thread may use it."""

    def __init__(self, server: LiveServer) -> None:
        self.base = server.url + "/__admin"

    def _call(self, method: str, path: str, timeout: float = 10.0, **kwargs: Any) -> Any:
        response = requests.request(method, self.base + path, timeout=timeout + 10, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json()

    def task(self, task_id: str) -> dict[str, Any]:
        return self._call("GET", f"/tasks/{task_id}")

    def wait_for_task(
        self, task_id: str, state: str = "finished", timeout: float = 10.0
    ) -> dict[str, Any]:
        body = {"state": state, "timeout": timeout}
        return self._call("POST", f"/tasks/{task_id}/wait", timeout, json=body)

    def complete(self, task_id: str) -> dict[str, Any]:
        return self._call("POST", f"/tasks/{task_id}/complete")

    def delivery_log(self, task_id: str) -> dict[str, Any]:
        return self._call("GET", f"/tasks/{task_id}/callback")

    def wait_for_delivery(self, task_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The callback's delivery once it is delivered, failed or refused."""
        body = {"timeout": timeout}
        return self._call("POST", f"/tasks/{task_id}/callback/wait", timeout, json=body)

    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        return self._call("GET", "/journal", 30, params=filters)["entries"]

    def wait_for_entry(self, timeout: float = 10.0, **filters: Any) -> dict[str, Any]:
        body = {**filters, "timeout": timeout}
        return self._call("POST", "/journal/wait", timeout, json=body)


# -- callback receivers that misbehave ------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """How a receiver treats one callback: answer ``status``, after holding it up to
    ``hold`` seconds (until released), or reset the connection instead of answering."""

    status: int = 200
    hold: float = 0.0
    reset: bool = False


@dataclass(frozen=True)
class Arrival:
    task_id: str | None
    attempt: int  # the how-many-th callback for this task that reached the receiver
    reply: Reply

    @property
    def accepted(self) -> bool:
        return not self.reply.reset and 200 <= self.reply.status < 300


Behaviour = Callable[[str | None, int], Reply]


def always(reply: Reply) -> Behaviour:
    return lambda task_id, attempt: reply


def first_attempts(count: int, reply: Reply) -> Behaviour:
    """``reply`` to the first ``count`` callbacks of each task, then a plain 200."""
    return lambda task_id, attempt: reply if attempt <= count else Reply()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many callbacks connect at once; a full backlog drops SYNs

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a caller that gave up (timed out) is the point of some receivers


@dataclass
class MisbehavingReceiver:
    """A threaded HTTP server on loopback (no gevent) that answers each callback as its
    behaviour says, records every arrival, and lets a test wait for arrivals."""

    behaviour: Behaviour = field(default_factory=lambda: always(Reply()))
    listening: socket.socket | None = None  # an already bound socket to serve on
    arrivals: list[Arrival] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.release = threading.Event()
        self._changed = threading.Condition()
        self._per_task: dict[str | None, int] = {}
        if self.listening is None:
            self._server = _QuietServer((LOOPBACK, 0), self._handler_class())
        else:
            self._server = _QuietServer(
                self.listening.getsockname(), self._handler_class(), bind_and_activate=False
            )
            self._server.socket.close()
            self._server.socket = self.listening
            self._server.server_activate()  # listen() on the socket that refused until now
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}/callback"

    def accepted(self, task_id: str) -> int:
        """How many callbacks of ``task_id`` the receiver answered with a 2xx."""
        with self._changed:
            return sum(1 for a in self.arrivals if a.task_id == task_id and a.accepted)

    def for_task(self, task_id: str) -> list[Arrival]:
        with self._changed:
            return [a for a in self.arrivals if a.task_id == task_id]

    def wait_count(self, count: int, timeout: float = 10.0) -> list[Arrival]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.arrivals) >= count, timeout):
                raise TimeoutError(f"{len(self.arrivals)} of {count} callbacks within {timeout} s")
            return list(self.arrivals)

    def close(self) -> None:
        self.release.set()  # held answers go now
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> MisbehavingReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _arrive(self, raw: bytes) -> Reply:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        task_id = body.get("task_id") if isinstance(body, dict) else None
        with self._changed:
            attempt = self._per_task.get(task_id, 0) + 1
            self._per_task[task_id] = attempt
            reply = self.behaviour(task_id, attempt)
            self.arrivals.append(Arrival(task_id, attempt, reply))
            self._changed.notify_all()
        return reply

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                reply = receiver._arrive(raw)
                if reply.hold:
                    receiver.release.wait(reply.hold)
                if reply.reset:
                    # Closed here, with linger 0: a RST. (socketserver would shut down
                    # the writing side first, a FIN, which is a clean close instead.)
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
                    self.connection.close()
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


class DownReceiver:
    """A port that refuses connections (bound, not listening) until `come_up`, which
    starts a receiver on the very same port."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind((LOOPBACK, 0))
        self.port = self.socket.getsockname()[1]
        self.up: MisbehavingReceiver | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/callback"

    def come_up(self, behaviour: Behaviour | None = None) -> MisbehavingReceiver:
        self.up = MisbehavingReceiver(behaviour or always(Reply()), listening=self.socket)
        return self.up

    def close(self) -> None:
        if self.up is not None:
            self.up.close()
        else:
            self.socket.close()

    def __enter__(self) -> DownReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
