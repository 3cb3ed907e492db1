"""Faults below HTTP as a client sees them, over real sockets.

A reset or a truncated answer only exists on a real socket, so these run `luma-mock
serve` itself, started with one scenario rule per fault (and duration) that a request
picks with the ``X-Luma-Mock-Scenario`` header: the product's own path from a rule to the
broken answer.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from mock_server.engine.faults import KINDS
from mock_server.harness.process import ServedFake
from tests.support import AUTH, LiveServer, serving

# A call whose answer is always the same, so each test knows what a whole one is.
CALL = {"action": "retrieve_batch", "ids": ["no-such-task", "nor-this-one"]}
ANSWER = {"items": [], "count": 0}
WHOLE = json.dumps(ANSWER, separators=(",", ":"))  # as the fake writes it, unbroken
DURATIONS = (30.0, 0.5, 0.2)  # seconds of a hang or a dribble


def fault_config(folder: Path) -> Path:
    """A config file with a rule per fault kind and duration, named ``kind-seconds``."""
    rules = [
        f'[[luma-mock.scenarios]]\nname = "{kind}-{seconds:g}"\n'
        f'match = {{ scenario = "{kind}-{seconds:g}" }}\n'
        f'then = {{ fault = "{kind}", seconds = {seconds} }}\n'
        for kind in KINDS
        for seconds in DURATIONS
    ]
    path = folder / "faults.toml"
    path.write_text("\n".join(rules))
    return path


def fault_server(folder: Path) -> AbstractContextManager[LiveServer]:
    config = fault_config(folder)
    return serving(ServedFake.serve("--delay", "instant", "--config", str(config)))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with fault_server(tmp_path_factory.mktemp("faults")) as running:
        yield running


def get_fault(
    server: LiveServer, kind: str, seconds: float = 30, timeout: float = 10
) -> requests.Response:
    """A fresh connection per fault: a pooled one would muddle what the client sees."""
    return requests.post(
        f"{server.url}/luma/tasks",
        json=CALL,
        headers={**AUTH, "X-Luma-Mock-Scenario": f"{kind}-{seconds:g}"},
        timeout=timeout,
    )


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
def raw_request(
    server: LiveServer, kind: str, seconds: float = 30, timeout: float = 5
) -> Iterator[socket.socket]:
    """A socket that has sent the faulted call, to read exactly what comes back."""
    address = urlsplit(server.url)
    assert address.hostname is not None and address.port is not None
    body = json.dumps(CALL).encode()
    head = (
        f"POST /luma/tasks HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Authorization: {AUTH['Authorization']}\r\nContent-Type: application/json\r\n"
        f"X-Luma-Mock-Scenario: {kind}-{seconds:g}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection((address.hostname, address.port), timeout=timeout) as sock:
        sock.sendall(head.encode() + body)
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
    with raw_request(server, "reset") as sock, pytest.raises(ConnectionResetError):
        sock.recv(1024)
    assert_healthy(server)


def test_empty_is_a_close_without_a_byte(server: LiveServer) -> None:
    with pytest.raises(requests.ConnectionError) as failed:
        get_fault(server, "empty")
    assert any(isinstance(e, http.client.RemoteDisconnected) for e in causes(failed.value))
    with raw_request(server, "empty") as sock:
        assert sock.recv(1024) == b""
    assert_healthy(server)


def test_malformed_json_is_a_200_that_does_not_parse(server: LiveServer) -> None:
    response = get_fault(server, "malformed_json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    assert WHOLE.startswith(response.text)
    with pytest.raises(requests.JSONDecodeError):
        response.json()


def test_truncated_ends_before_its_content_length(server: LiveServer) -> None:
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as failed:
        get_fault(server, "truncated")
    assert "IncompleteRead" in repr(failed.value)
    with raw_request(server, "truncated") as sock:
        headers, body = split_answer(b"".join(read_to_end(sock)))
    assert headers["content-type"] == "application/json"
    promised = int(headers["content-length"])
    assert promised == len(WHOLE) and 0 < len(body) < promised
    assert WHOLE.encode().startswith(body)
    assert_healthy(server)


def test_dribble_is_the_whole_answer_in_many_pieces(server: LiveServer) -> None:
    started = time.monotonic()
    response = get_fault(server, "dribble", seconds=0.5)
    assert time.monotonic() - started >= 0.4  # a lower bound: the server spreads it out
    assert response.status_code == 200 and response.json() == ANSWER
    assert int(response.headers["content-length"]) == len(response.content)

    with raw_request(server, "dribble", 0.5) as sock:
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


def test_every_fault_leaves_the_server_serving_and_logs_no_traceback(tmp_path: Path) -> None:
    with fault_server(tmp_path) as server:
        for kind in KINDS:
            # What each one looks like to the client is tested above.
            with suppress(requests.RequestException):
                get_fault(server, kind, seconds=0.2, timeout=5)
        assert_healthy(server)
        output = server.stop(signal.SIGTERM)
    assert server.process.returncode == 0
    assert "Traceback" not in output and "Error" not in output
    assert "luma-mock stopped" in output


def test_sigterm_ends_a_hang_at_once(tmp_path: Path) -> None:
    with fault_server(tmp_path) as server:
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
