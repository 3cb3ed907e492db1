"""Fault tests of one fake in several processes on a shared store: three processes
advancing one manual clock at once, each callback sent once; Redis stopped and started
while requests keep coming — 503s, never a 500, a hang or a crash — and the fake carries
on once it is back."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import redis

from mock_server.engine.shared.notes import PREFIX
from mock_server.harness.receiver import CallbackReceiver
from tests.redis_server import start_redis
from tests.support import PROMPT, LiveServer, live_server

T0 = 1_700_000_000.0


def generate(server: LiveServer, **body: Any) -> str:
    answer = server.post("/luma/videos", {"prompt": PROMPT, "async": True, **body})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["task_id"])


def test_three_processes_advancing_at_once_move_one_clock_and_call_back_once(
    redis_url: str,
) -> None:
    redis.Redis.from_url(redis_url).set(f"{PREFIX}:clock", repr(T0))
    args = ("--store", redis_url, "--clock", "manual", "--delay", "25")
    with (
        CallbackReceiver() as receiver,
        live_server(*args, "--callback-allow", "127.0.0.1") as a,
        live_server(*args, "--callback-allow", "127.0.0.1") as b,
        live_server(*args, "--callback-allow", "127.0.0.1") as c,
    ):
        servers = (a, b, c)
        made = [generate(servers[n % 3], callback_url=receiver.url) for n in range(12)]
        answers: list[Any] = []

        def advance(server: LiveServer) -> None:
            for _ in range(3):
                answers.append(server.post("/__admin/clock/advance", {"seconds": 10}))

        movers = [threading.Thread(target=advance, args=(server,)) for server in servers]
        for mover in movers:
            mover.start()
        for mover in movers:
            mover.join(60)
        assert [answer.status_code for answer in answers] == [200] * 9
        for server in servers:  # nine moves of 10 s, whichever process made them
            health = server.session.get(server.url + "/health", timeout=10).json()
            assert health["clock"] == T0 + 90
        receiver.wait_count(len(made))
        assert Counter(c.task_id for c in receiver.received) == Counter(made)  # once each


def test_redis_stopped_and_started_under_load() -> None:
    own = start_redis()
    try:
        args = ("--store", own.url(), "--clock", "manual", "--delay", "10")
        with live_server(*args) as a, live_server(*args) as b:
            statuses: list[int] = []
            answered = threading.Condition()
            stop = threading.Event()

            def keep_posting(server: LiveServer) -> None:
                while not stop.is_set():
                    answer = server.post("/luma/videos", {"prompt": PROMPT, "async": True})
                    with answered:
                        statuses.append(answer.status_code)
                        answered.notify_all()

            def wait_for(status: int, count: int, after: int = 0) -> None:
                with answered:
                    assert answered.wait_for(lambda: statuses[after:].count(status) >= count, 60)

            posters = [threading.Thread(target=keep_posting, args=(s,)) for s in (a, b)]
            for poster in posters:
                poster.start()
            try:
                wait_for(200, 20)  # under load, then Redis goes
                own.kill()
                wait_for(503, 10)  # answered 503, logged
                own.start_again()
                wait_for(200, 20, after=len(statuses))  # and back
            finally:
                stop.set()
                for poster in posters:
                    poster.join(60)
            assert set(statuses) <= {200, 503}  # never a 500, never a hang (they returned)
            assert a.process.poll() is None and b.process.poll() is None
            task_id = generate(a)
            moved = b.post("/__admin/clock/advance", {"seconds": 10})
            assert moved.status_code == 200, moved.text
            record = a.post("/luma/tasks", {"id": task_id}).json()
            assert record["response"]["state"] == "completed"
        for server in (a, b):
            assert "Traceback" not in server.fake.output
    finally:
        own.stop()
