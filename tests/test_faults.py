"""Faults below HTTP as a client sees them, over real sockets.

A reset or a truncated answer only exists on a real socket, so the fake runs in its own
process under gevent, as `luma-mock serve` does — plus one test-only route that raises
`ConnectionFault`, in place of the scenario rules that will raise it in the product.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from urllib.parse import urlsplit

import pytest
import requests

from mock_server.faults import KINDS
from mock_server.process import ServedFake
from tests.support import LiveServer, serving

ANSWER = {
    "success": True,
    "task_id": "abc",
    "video_id": "def",
    "prompt": "Astronauts shuttle from space to volcano",
    "video_url": "https://platform.cdn.acedata.cloud/luma/def.mp4",
    "state": "completed",
}

# The fake as `luma-mock serve` runs it, plus the route that raises the fault.
SERVER_SCRIPT = f"""
from gevent import monkey

monkey.patch_all()

import sys

from flask import request

from mock_server.app import create_app
from mock_server.config import Settings
from mock_server.delays import PRESETS
from mock_server.faults import ConnectionFault, Fault
from mock_server.server import configure_logging, serve_app
from mock_server.service import LumaService

settings = Settings(delays=PRESETS["instant"], port=0)
app = create_app(LumaService(settings))


@app.get("/__fault/<kind>")
def fault(kind):
    seconds = float(request.args.get("seconds", "30"))
    raise ConnectionFault(Fault(kind, seconds), 200, {ANSWER!r})


configure_logging("text")
sys.exit(serve_app(app, settings))
"""


def fault_server() -> AbstractContextManager[LiveServer]:
    script = [sys.executable, "-c", SERVER_SCRIPT]
    return serving(ServedFake(script, env={"PYTHONUNBUFFERED": "1"}))


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with fault_server() as running:
        yield running


def get_fault(
    server: LiveServer, kind: str, seconds: float = 30, timeout: float = 10
) -> requests.Response:
    """A fresh connection per fault: a pooled one would muddle what the client sees."""
    return requests.get(f"{server.url}/__fault/{kind}?seconds={seconds}", timeout=timeout)


def causes(error: BaseException) -> list[BaseException]:
    """The error and everything it wraps (requests and urllib3 nest them in args too)."""
    found: list[BaseException] = []
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if current in found:
            continue
        found.append(current)
        pending += [a for a in current.args if isinstance(a, BaseException)]
        pending += [c for c in (current.__cause__, current.__context__) if c is not None]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
    return found


@contextmanager
def raw_request(server: LiveServer, path: str, timeout: float = 5) -> Iterator[socket.socket]:
    """A socket that has sent ``GET path``, to read exactly what comes back."""
    address = urlsplit(server.url)
    assert address.hostname is not None and address.port is not None
    with socket.create_connection((address.hostname, address.port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {address.netloc}\r\n\r\n".encode())
        yield sock


def read_to_end(sock: socket.socket) -> list[bytes]:
    pieces = []
    while piece := sock.recv(65536):
        pieces.append(piece)
    return pieces


def split_answer(raw: bytes) -> tuple[dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")[1:]
    headers = {name.lower(): value.strip() for name, value in (h.split(":", 1) for h in lines)}
    return headers, body


def is_complete(raw: bytes) -> bool:
    if b"\r\n\r\n" not in raw:
        return False
    headers, body = split_answer(raw)
    return len(body) >= int(headers["content-length"])


def assert_healthy(server: LiveServer) -> None:
    assert requests.get(server.url + "/health", timeout=5).json()["status"] == "ok"


def test_reset_is_a_connection_reset(server: LiveServer) -> None:
    with pytest.raises(requests.ConnectionError) as failed:
        get_fault(server, "reset")
    assert any(isinstance(e, ConnectionResetError) for e in causes(failed.value))
    with raw_request(server, "/__fault/reset") as sock, pytest.raises(ConnectionResetError):
        sock.recv(1024)
    assert_healthy(server)


def test_empty_is_a_close_without_a_byte(server: LiveServer) -> None:
    with pytest.raises(requests.ConnectionError) as failed:
        get_fault(server, "empty")
    assert any(isinstance(e, http.client.RemoteDisconnected) for e in causes(failed.value))
    with raw_request(server, "/__fault/empty") as sock:
        assert sock.recv(1024) == b""
    assert_healthy(server)


def test_malformed_json_is_a_200_that_does_not_parse(server: LiveServer) -> None:
    response = get_fault(server, "malformed_json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    assert json.dumps(ANSWER).startswith(response.text)
    with pytest.raises(requests.JSONDecodeError):
        response.json()


def test_truncated_ends_before_its_content_length(server: LiveServer) -> None:
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as failed:
        get_fault(server, "truncated")
    assert "IncompleteRead" in repr(failed.value)
    with raw_request(server, "/__fault/truncated") as sock:
        headers, body = split_answer(b"".join(read_to_end(sock)))
    assert headers["content-type"] == "application/json"
    promised = int(headers["content-length"])
    assert promised == len(json.dumps(ANSWER)) and 0 < len(body) < promised
    assert json.dumps(ANSWER).encode().startswith(body)
    assert_healthy(server)


def test_dribble_is_the_whole_answer_in_many_pieces(server: LiveServer) -> None:
    started = time.monotonic()
    response = get_fault(server, "dribble", seconds=0.5)
    assert time.monotonic() - started >= 0.4  # a lower bound: the server spreads it out
    assert response.status_code == 200 and response.json() == ANSWER
    assert int(response.headers["content-length"]) == len(response.content)

    with raw_request(server, "/__fault/dribble?seconds=0.5") as sock:
        # The connection stays open after the answer: read until it is complete.
        pieces: list[bytes] = []
        while not is_complete(received := b"".join(pieces)):
            pieces.append(sock.recv(65536))
    assert json.loads(split_answer(received)[1]) == ANSWER
    assert len(pieces) >= 5


def test_hang_times_the_client_out_and_the_server_keeps_serving(server: LiveServer) -> None:
    with pytest.raises(requests.ReadTimeout):
        get_fault(server, "hang", seconds=30, timeout=0.5)
    assert_healthy(server)


def test_every_fault_leaves_the_server_serving_and_logs_no_traceback() -> None:
    with fault_server() as server:
        for kind in KINDS:
            # What each one looks like to the client is tested above.
            with suppress(requests.RequestException):
                get_fault(server, kind, seconds=0.2, timeout=5)
        assert_healthy(server)
        output = server.stop(signal.SIGTERM)
    assert server.process.returncode == 0
    assert "Traceback" not in output and "Error" not in output
    assert "luma-mock stopped" in output


def test_sigterm_ends_a_hang_at_once() -> None:
    with fault_server() as server:
        with pytest.raises(requests.ReadTimeout):
            get_fault(server, "hang", seconds=30, timeout=0.5)
        # The hang is now in progress: the shutdown must wake it (and say so), not
        # wait out its 30 s; the bound here is only a generous upper one.
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=10)
        output = server.stop()
    assert server.process.returncode == 0
    assert "a hanging answer was cut short by the shutdown" in output
    assert "Traceback" not in output
