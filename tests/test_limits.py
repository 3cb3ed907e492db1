"""The server's timeouts and connection cap, over real sockets against a real process
(`mock_server.web.limits`): half-sent requests are answered 408 and closed, idle
connections are closed, a flood past the cap is refused with 503 while the admitted
connections are served — and held calls and event streams outlive every timeout.

The timeouts are set small by each test; every wait is on the socket (an answer, an end
of file), never a sleep standing in for one.
"""

from __future__ import annotations

import http.client
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests

from mock_server.engine.config import Settings, load
from tests.hardening_support import (
    RawExchange,
    assert_error_envelope,
    http_request,
    port_of,
)
from tests.support import AUTH, PROMPT, InThread, LiveServer, live_server

TIMEOUT = 0.5  # seconds: request and idle timeouts of the fakes below
SAFETY = 10.0  # seconds a test waits for what should come long before


@contextmanager
def limited_server(*args: str) -> Iterator[LiveServer]:
    with live_server(
        "--request-timeout", str(TIMEOUT), "--idle-timeout", str(TIMEOUT), *args
    ) as server:
        yield server


def connect(server: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port_of(server)), timeout=SAFETY)


def read_to_end(sock: socket.socket) -> RawExchange:
    """Everything the server sends until it closes (a timeout here fails the test)."""
    received = bytearray()
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        return RawExchange(bytes(received), reset=True)
    return RawExchange(bytes(received))


def ask_health(sock: socket.socket) -> int:
    """One keep-alive GET /health on ``sock``; the answer's status (0: closed instead)."""
    sock.sendall(http_request("GET", "/health", close=False))
    answer = http.client.HTTPResponse(sock)  # reads exactly one answer
    try:
        answer.begin()
        answer.read()
    except (http.client.HTTPException, OSError):
        return 0
    return answer.status


def descriptors(server: LiveServer) -> int:
    return len(os.listdir(f"/proc/{server.process.pid}/fd"))


def wait_for_descriptors(server: LiveServer, at_most: int) -> int:
    """Until the server holds at most ``at_most`` descriptors (it closes its side of a
    connection a moment after the client sees the end of file); the last count."""
    deadline = time.monotonic() + SAFETY
    while (count := descriptors(server)) > at_most and time.monotonic() < deadline:
        time.sleep(0.02)  # /proc offers nothing to wait on
    return count


@contextmanager
def request_timeout_server() -> Iterator[LiveServer]:
    """A fake whose request timeout is the one to meet: a busy machine may take longer
    than `TIMEOUT` between a test's connect and its first byte, which the idle timeout
    would rightly close unanswered."""
    with limited_server("--idle-timeout", str(SAFETY * 6)) as server:
        yield server


def assert_timed_out(exchange: RawExchange) -> None:
    answer = exchange.first
    assert answer.status == 408, exchange.data
    body = assert_error_envelope(408, answer.json())
    assert body["error"]["code"] == "request_timeout", body
    assert f"{TIMEOUT:g} s" in body["error"]["message"]
    assert answer.headers["connection"] == "close"


def test_a_request_whose_head_never_ends_is_answered_408_and_closed() -> None:
    with request_timeout_server() as server, connect(server) as sock:
        sock.sendall(b"POST /luma/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl")
        assert_timed_out(read_to_end(sock))


def test_a_body_shorter_than_its_length_is_answered_408_and_closed() -> None:
    with request_timeout_server() as server, connect(server) as sock:
        head = http_request(
            "POST", "/luma/videos", headers={**AUTH, "Content-Length": "100"}, close=False
        )
        sock.sendall(head + b'{"prompt": "a cat"')
        assert_timed_out(read_to_end(sock))


def test_a_request_trickled_byte_by_byte_is_cut_at_the_timeout_from_its_first_byte() -> None:
    """Slowloris: each byte arrives well within the timeout, the request never does."""
    request = http_request("GET", "/health", headers={"X-Padding": "p" * 200})
    with request_timeout_server() as server, connect(server) as sock:
        answer: list[RawExchange] = []
        reader = threading.Thread(target=lambda: answer.append(read_to_end(sock)))
        reader.start()
        sent = 0
        while reader.is_alive() and sent < len(request):
            try:
                sock.send(request[sent : sent + 1])
            except OSError:
                break  # the server closed: the reader has its answer
            sent += 1
            time.sleep(TIMEOUT / 10)  # the client's pace: this IS the slow client
        reader.join(SAFETY)
        assert sent < len(request), "the whole request arrived: nothing to cut"
        assert_timed_out(answer[0])


def test_an_idle_connection_is_closed_after_its_answer_and_before_its_first_request() -> None:
    with limited_server() as server:
        baseline = descriptors(server)
        with connect(server) as never_used, connect(server) as kept_alive:
            kept_alive.sendall(http_request("GET", "/health", close=False))
            exchange = read_to_end(kept_alive)  # the answer, then the close at idle time
            assert [a.status for a in exchange.answers] == [200]
            assert read_to_end(never_used).data == b""  # closed without a word
        assert wait_for_descriptors(server, baseline) <= baseline


def test_many_abandoned_connections_give_back_their_descriptors() -> None:
    """The issue's case: half-sent requests and idle keep-alives left open by a client."""
    with limited_server() as server, ExitStack() as stack:
        baseline = descriptors(server)
        socks = [stack.enter_context(connect(server)) for _ in range(60)]
        for n, sock in enumerate(socks):
            if n % 2:
                sock.sendall(b"POST /luma/videos HTTP/1.1\r\nContent-Length: 10\r\n\r\n{")
            else:
                sock.sendall(http_request("GET", "/health", close=False))
        statuses = sorted(a.status for sock in socks for a in read_to_end(sock).answers)
        assert statuses == [200] * 30 + [408] * 30
        for sock in socks:
            sock.close()
        assert wait_for_descriptors(server, baseline) <= baseline


def test_held_sync_calls_and_event_streams_outlive_the_timeouts() -> None:
    """A synchronous call held for several timeouts gets its result, and an event stream
    open as long keeps receiving: the timeouts bound waiting for the client, not the
    fake's own answers."""
    with limited_server("--delay", str(TIMEOUT * 4)) as server:
        events = requests.get(server.url + "/__admin/events", stream=True, timeout=SAFETY)
        lines = events.iter_lines()
        assert next(lines) == b"retry: 2000"
        held = InThread(
            requests.post,
            server.url + "/luma/videos",
            json={"prompt": PROMPT},
            headers=AUTH,
            timeout=SAFETY,
        )
        answer = held.join(SAFETY)
        assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == "completed"
        seen = b""
        for line in lines:  # the stream is still live: it reports the task's end
            seen += line + b"\n"
            if b'"completed"' in line:
                break
        assert b"event: task" in seen
        events.close()


def test_past_the_cap_new_connections_get_503_and_the_admitted_ones_are_served() -> None:
    cap = 4
    with (
        live_server("--max-connections", str(cap), "--idle-timeout", "60") as server,
        ExitStack() as stack,
    ):
        admitted = [stack.enter_context(connect(server)) for _ in range(cap)]
        for sock in admitted:  # each is being served: its answer came back
            assert ask_health(sock) == 200

        flood: list[RawExchange] = []
        lock = threading.Lock()

        def knock() -> None:
            with connect(server) as sock:
                sock.sendall(http_request("GET", "/health"))
                exchange = read_to_end(sock)
            with lock:
                flood.append(exchange)

        knockers = [threading.Thread(target=knock) for _ in range(100)]
        for thread in knockers:
            thread.start()
        for sock in admitted:  # served all along, at the top of the flood
            assert ask_health(sock) == 200
        for thread in knockers:
            thread.join(SAFETY)

        assert len(flood) == 100
        for exchange in flood:
            refused = exchange.first
            assert refused.status == 503, exchange.data
            assert refused.headers["retry-after"] == "1"
            assert_error_envelope(500, refused.json())  # api_error, as a Redis outage
            assert f"maximum of {cap} connections" in refused.json()["error"]["message"]

        admitted.pop().close()  # a place frees up: the next connection is served
        deadline = time.monotonic() + SAFETY
        while time.monotonic() < deadline:
            with connect(server) as sock:
                sock.sendall(http_request("GET", "/health"))
                status = read_to_end(sock).first.status
            if status == 200:
                break
        assert status == 200


def test_the_limits_come_from_the_config_file_and_bad_ones_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "luma-mock.toml"
    path.write_text(
        "[luma-mock]\nrequest_timeout = 5\nidle_timeout = 0\nmax_connections = 64\ngrace = 1.5\n",
        encoding="utf-8",
    )
    settings = load(config=path, environ={})
    assert (settings.request_timeout, settings.idle_timeout) == (5.0, 0.0)
    assert (settings.max_connections, settings.grace) == (64, 1.5)
    with pytest.raises(ValueError, match="idle_timeout"):
        Settings().with_values({"idle_timeout": -1})
    assert load({"max_connections": 3}, environ={"LUMA_MOCK_GRACE": "4"}).grace == 4.0
