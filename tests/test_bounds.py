"""What the fake keeps stays within its caps however many tasks pass through: stored
tasks (``max_tasks``), delivery logs (as many), the journal (``journal_limit``), and
nothing else kept per task beyond them — counted as live objects, not as memory, with
every task carrying a callback (delivered, or retried against a receiver that is down).
"""

from __future__ import annotations

import gc
import socket
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gevent.event import Event

from mock_server.acedata import LumaService
from mock_server.engine.callbacks import CallbackAttempt, CallbackDelivery
from mock_server.engine.delays import PRESETS
from mock_server.engine.journal import JournalEntry
from mock_server.engine.tasks import Task
from mock_server.harness.receiver import CallbackReceiver
from mock_server.web.connection import Connection
from tests.support import PROMPT, manual_service

MAX_TASKS = 40
JOURNAL = 100
KINDS = (Task, CallbackDelivery, CallbackAttempt, JournalEntry)


def live_objects() -> Counter[str]:
    gc.collect()
    wanted = set(KINDS)
    return Counter(type(o).__name__ for o in gc.get_objects() if type(o) in wanted)


def run_tasks(luma: LumaService, urls: list[str], count: int) -> None:
    """``count`` tasks, each with a callback to the next URL in turn, run to their end
    and every callback attempt made (the manual clock moves them all)."""
    for n in range(count):
        url = urls[n % len(urls)]
        luma.videos({"prompt": PROMPT, "callback_url": url}, token="t", base_url="http://f.test")
        luma.advance(0)
    luma.advance(600)  # past every retry's backoff


def test_tasks_with_callbacks_leave_nothing_behind_past_the_caps() -> None:
    luma = manual_service(
        max_tasks=MAX_TASKS, journal_limit=JOURNAL, callback_retries=2, delays=PRESETS["instant"]
    )
    down = "http://127.0.0.1:9/callback"  # discard port: refused at once
    try:
        with CallbackReceiver() as receiver:
            urls = [receiver.url, down]
            run_tasks(luma, urls, 3 * MAX_TASKS)  # past every cap
            before = live_objects()
            run_tasks(luma, urls, 5 * MAX_TASKS)
            after = live_objects()
            assert len(receiver.received) == 4 * MAX_TASKS  # half of them, delivered
    finally:
        luma.close()
    for kind in ("Task", "CallbackDelivery", "CallbackAttempt", "JournalEntry"):
        assert after[kind] <= before[kind], f"{kind}: {before[kind]} -> {after[kind]}"
    assert after["Task"] <= before["Task"] and before["Task"] >= MAX_TASKS
    assert after["JournalEntry"] >= JOURNAL  # the journal is full, and no more than full


@contextmanager
def garbage_kept() -> Iterator[list[object]]:
    """What the collector finds unreachable in the block: a reference cycle left per
    request or per callback is memory that waits for a full pass, under load a long
    wait (the served fake collects rarely: `web.server`)."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    found: list[object] = []
    try:
        yield found
        gc.collect()
        found.extend(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_a_callback_sent_leaves_no_reference_cycle() -> None:
    luma = manual_service(delays=PRESETS["instant"])
    try:
        with CallbackReceiver() as receiver, garbage_kept() as garbage:
            run_tasks(luma, [receiver.url], 20)
            assert len(receiver.received) == 20
    finally:
        luma.close()
    kinds = Counter(type(o).__name__ for o in garbage)
    assert kinds["_Answer"] == 0 and kinds["HttpResponseParser"] == 0, kinds


def test_a_closed_connection_leaves_no_reference_cycle() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Length", "2")])
        return [b"{}"]

    with garbage_kept() as garbage:
        for _ in range(5):
            server_side, client_side = socket.socketpair()
            client_side.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            client_side.shutdown(socket.SHUT_WR)  # all it sends: the server's drain ends
            Connection(
                server_side,
                ("127.0.0.1", 1),
                app,
                server_name="x",
                server_port=80,
                max_body=1024,
                stopping=Event(),
                refusal_body=lambda code, message: b"{}",
            ).serve()
            assert client_side.recv(1024).startswith(b"HTTP/1.1 200 OK")
            client_side.close()
    kinds = Counter(type(o).__name__ for o in garbage)
    assert kinds["Connection"] == 0 and kinds["HttpRequestParser"] == 0, kinds
