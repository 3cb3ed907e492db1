"""SIGTERM, gracefully (`--grace`): the server stops accepting, held synchronous calls
whose results come within the grace get them, callbacks under way finish, what the
memory store could not deliver is logged, and the process exits 0."""

from __future__ import annotations

import signal
import socket

import requests

from tests.hardening_support import MisbehavingReceiver, Reply, always, port_of
from tests.support import AUTH, PROMPT, InThread, LiveServer, live_server
from tests.test_hardening_shutdown import wait_for_task_count

HELD = 6


def hold(server: LiveServer, n: int) -> InThread:
    body = {"prompt": f"{PROMPT} {n}"}
    return InThread(requests.post, server.url + "/luma/videos", json=body, headers=AUTH, timeout=30)


def test_held_calls_ready_within_the_grace_get_their_results() -> None:
    with live_server("--delay", "1.5", "--grace", "20") as server:
        held = [hold(server, n) for n in range(HELD)]
        wait_for_task_count(server, HELD)
        server.process.send_signal(signal.SIGTERM)
        answers = [call.join(20) for call in held]
        output = server.stop(signal.SIGTERM, timeout=20)
    assert server.process.returncode == 0
    assert [a.status_code for a in answers] == [200] * HELD
    assert all(a.json()["state"] == "completed" for a in answers)
    assert output.rstrip().endswith("dropped 0 running task(s) and 0 undelivered callback(s)")


def test_a_stopping_server_accepts_no_new_connections() -> None:
    with live_server("--delay", "1.5", "--grace", "20") as server:
        held = hold(server, 0)
        wait_for_task_count(server, 1)
        server.process.send_signal(signal.SIGTERM)
        assert held.join(20).status_code == 200  # once it is answered, the listener is shut
        refused = False
        try:
            with socket.create_connection(("127.0.0.1", port_of(server)), timeout=5) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                refused = sock.recv(100) == b""
        except OSError:
            refused = True
        server.stop(signal.SIGTERM, timeout=20)
    assert refused


def test_held_calls_that_cannot_finish_in_the_grace_are_answered_at_once() -> None:
    """Tasks that end long after the grace: no waiting it out, an error now."""
    with live_server("--delay", "600", "--grace", "60") as server:
        held = [hold(server, n) for n in range(3)]
        wait_for_task_count(server, 3)
        output = server.stop(signal.SIGTERM, timeout=10)  # well before the 60 s grace
        answers = [call.join(10) for call in held]
    assert server.process.returncode == 0
    for answer in answers:
        assert answer.status_code == 500
        assert "shutting down" in answer.json()["error"]["message"]
    assert "dropped 3 running task(s)" in output


def test_a_callback_in_flight_finishes_within_the_grace_and_the_lost_ones_are_logged() -> None:
    with (
        live_server("--delay", "instant", "--grace", "20") as server,
        MisbehavingReceiver(always(Reply(hold=1.0))) as slow,
    ):
        body = {"prompt": PROMPT, "callback_url": slow.url}
        answer = server.post("/luma/videos", body)
        assert answer.status_code == 200
        slow.wait_count(1)  # the attempt is on the wire, its answer a second away
        output = server.stop(signal.SIGTERM, timeout=20)
    assert server.process.returncode == 0
    assert output.rstrip().endswith("dropped 0 running task(s) and 0 undelivered callback(s)")
    assert "not delivered" not in output


def test_what_the_memory_store_could_not_deliver_is_logged() -> None:
    with live_server("--delay", "instant", "--grace", "0.2") as server:
        body = {"prompt": PROMPT, "callback_url": "http://127.0.0.1:9/hook"}  # refused
        task_id = server.post("/luma/videos", body).json()["task_id"]
        output = server.stop(signal.SIGTERM, timeout=20)
    assert server.process.returncode == 0
    lost = [line for line in output.splitlines() if "not delivered" in line]
    assert len(lost) == 1 and task_id in lost[0] and "http://127.0.0.1:9/hook" in lost[0]
    assert output.rstrip().endswith("1 undelivered callback(s)")
