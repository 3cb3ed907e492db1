"""Crashes of one fake in several real processes on a real Redis: a process SIGKILLed
while it holds claimed callback attempts, every process killed at once and started
again, and Redis itself killed and started again under load on a real clock. Nothing is
lost and nothing is delivered twice: every task ends at its planned time and every
callback is accepted by its receiver exactly once."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import redis

from mock_server.engine.shared.notes import PREFIX
from mock_server.harness.receiver import CallbackReceiver, ReceivedCallback
from tests.redis_server import start_redis
from tests.support import PROMPT, LiveServer, live_server
from tests.test_shared_processes import advance, generate, retrieve

T0 = 1_700_000_000.0
HELD = 0  # a held callback's status: the receiver never answered it
LEASE = 3.0  # seconds a claim is held: short, so a dead claimant's work moves on soon


class HoldingReceiver(CallbackReceiver):
    """A receiver that, while `holding`, keeps each POST open without answering (the
    sender is mid-attempt) until `release`; a held POST is recorded with status 0."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = True
        self._released = threading.Event()
        # A released POST whose sender died writes to a closed socket: not news.
        self._server.handle_error = lambda request, address: None  # type: ignore[method-assign]

    def release(self) -> None:
        with self._changed:
            self.holding = False
        self._released.set()

    def _record(self, path: str, headers: dict[str, str], raw: bytes) -> int:
        with self._changed:
            holding = self.holding
            if holding:
                self.received.append(ReceivedCallback(path, headers, json.loads(raw), HELD))
                self._changed.notify_all()
        if not holding:
            return super()._record(path, headers, raw)
        self._released.wait(60)
        return 503  # too late for a sender that died meanwhile; a failure for any other


def delivered(server: LiveServer, task_id: str) -> dict[str, Any]:
    """The shared delivery log of ``task_id``'s callback, once it has finished."""
    path = f"/__admin/tasks/{task_id}/callback/wait"
    answer = server.post(path, {"timeout": 20})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def queued_for(store: redis.Redis, task_ids: list[str]) -> list[str]:
    """Due events (waiting or claimed) that still name one of ``task_ids``: none once
    their work is done, so nothing of theirs can be sent again."""
    events = [e.decode() for e in store.hkeys(f"{PREFIX}:events")]
    return [e for e in events if any(t in e for t in task_ids)]


def accepted_once(receiver: CallbackReceiver, made: list[str], timeout: float = 30) -> None:
    """Wait until the receiver has accepted as many callbacks as tasks were ``made``,
    then check that it accepted one for each."""
    with receiver._changed:  # the receiver's own condition, notified on every POST
        enough = receiver._changed.wait_for(lambda: len(receiver._accepted()) >= len(made), timeout)
    assert enough, f"{len(receiver.accepted())} of {len(made)} callbacks accepted"
    assert Counter(c.task_id for c in receiver.accepted()) == Counter(made)


@contextmanager
def servers(count: int, *args: str) -> Iterator[list[LiveServer]]:
    with ExitStack() as stack:
        yield [stack.enter_context(live_server(*args)) for _ in range(count)]


def test_a_sigkilled_claimant_loses_nothing_and_sends_nothing_twice(redis_url: str) -> None:
    store = redis.Redis.from_url(redis_url)
    args = ("--store", f"{redis_url}?lease={LEASE}", "--delay", "1")
    args += ("--callback-allow", "127.0.0.1")
    with HoldingReceiver() as receiver, servers(2, *args) as (a, b):
        # B stands still (SIGSTOP) so that A, alone, claims every attempt: the test then
        # knows what A holds when it dies. B is a live process on the store all along.
        b.process.send_signal(signal.SIGSTOP)
        first = [generate(a, callback_url=receiver.url) for _ in range(6)]
        held = receiver.wait_count(len(first), timeout=30)  # A is mid-attempt on each
        assert sorted(str(c.task_id) for c in held) == sorted(first)
        later = [generate(a, callback_url=receiver.url) for _ in range(4)]  # due in 1 s
        a.fake.stop(signal.SIGKILL)
        # A died before any answer: no attempt of A's was a delivery. (The window the
        # README names — a receiver that accepted, a sender killed before it settled —
        # is closed here by never accepting A's POSTs.)
        receiver.release()
        b.process.send_signal(signal.SIGCONT)
        made = first + later
        accepted_once(receiver, made)  # B, once A's leases lapse
        for task_id in made:
            assert retrieve(b, task_id)["response"]["state"] == "completed"
            log = delivered(b, task_id)
            assert log["state"] == "delivered"
            assert [attempt["status"] for attempt in log["attempts"]] == [200]
        assert queued_for(store, made) == []  # nothing left that could send again
        assert Counter(c.task_id for c in receiver.accepted()) == Counter(made)
        assert "Traceback" not in b.fake.output


def test_a_restart_of_every_process_keeps_plans_and_pending_callbacks(redis_url: str) -> None:
    store = redis.Redis.from_url(redis_url)
    store.set(f"{PREFIX}:clock", repr(T0))
    args = ("--store", redis_url, "--clock", "manual", "--delay", "10")
    args += ("--callback-allow", "127.0.0.1")
    with CallbackReceiver() as receiver:
        with servers(2, *args) as (a, b):
            early = [generate((a, b)[n % 2], callback_url=receiver.url) for n in range(4)]
            receiver.answer(500, 500)  # two first attempts fail: retries due at T0 + 11
            advance(a, 10)
            receiver.wait_count(len(early))
            later = [generate((a, b)[n % 2], callback_url=receiver.url) for n in range(4)]
            for server in (a, b):  # every process at once, with work planned for later
                server.fake.stop(signal.SIGKILL)
        with servers(2, *args) as (c, d):
            assert len(receiver.accepted()) == 2  # two retries pending across the restart
            assert [retrieve(c, t)["response"]["state"] for t in later] == ["processing"] * 4
            advance(c, 0.5)
            assert len(receiver.received) == len(early)  # not yet: the retries are at T0 + 11
            advance(d, 0.5)
            receiver.wait_count(len(early) + 2)
            advance(c, 8.5)  # the later tasks are planned for T0 + 20
            assert retrieve(d, later[0])["response"]["state"] == "processing"
            advance(d, 0.5)
            assert {retrieve(c, t)["finished_at"] for t in later} == {T0 + 20}
            assert {retrieve(d, t)["finished_at"] for t in early} == {T0 + 10}
            made = early + later
            accepted_once(receiver, made)
            for task_id in made:
                assert delivered(c, task_id)["state"] == "delivered"
            statuses = sorted(
                sorted(a["status"] for a in delivered(d, t)["attempts"]) for t in early
            )
            assert statuses == [[200], [200], [200, 500], [200, 500]]
            assert queued_for(store, made) == []


def test_redis_killed_under_load_keeps_tasks_and_callbacks_of_before() -> None:
    own = start_redis(durable=True)  # what it held comes back with it
    try:
        args = ("--store", own.url(), "--delay", "3", "--callback-allow", "127.0.0.1")
        with CallbackReceiver() as receiver, servers(2, *args) as (a, b):
            first_due = time.time() + 3  # no task below ends before this, none after
            before = [generate((a, b)[n % 2], callback_url=receiver.url) for n in range(6)]
            last_due = time.time() + 3  # this: so all of them end during the outage
            answers: list[tuple[int, bool]] = []
            answered = threading.Condition()
            stop = threading.Event()

            def keep_posting(server: LiveServer) -> None:
                dialects = [
                    ("/luma/videos", {"prompt": PROMPT, "async": True}, "error"),
                    (
                        "/dream-machine/v1/generations/video",
                        {"model": "ray-2", "prompt": "a tiger"},
                        "detail",
                    ),
                ]
                n = 0
                while not stop.is_set():
                    path, body, field = dialects[n % 2]
                    n += 1
                    answer = server.post(path, body, timeout=15)
                    shaped = answer.status_code in (200, 201) or (
                        answer.headers.get("Retry-After") == "1"
                        and "cannot be reached" in str(answer.json()[field])
                    )
                    with answered:
                        answers.append((answer.status_code, shaped))
                        answered.notify_all()

            def wait_for(status: int, count: int, after: int = 0, until: float = 0) -> None:
                def seen() -> bool:
                    late = [s for s, _ in answers[after:]].count(status) >= count
                    return late and time.time() > until

                with answered:
                    assert answered.wait_for(seen, 30), answers[-5:]

            posters = [threading.Thread(target=keep_posting, args=(s,)) for s in (a, b)]
            for poster in posters:
                poster.start()
            try:
                wait_for(200, 6)
                assert time.time() < first_due, "too slow to kill Redis before the tasks are due"
                own.kill()
                wait_for(503, 6, until=last_due)  # the tasks fell due while Redis was away
                own.start_again()
                wait_for(200, 6, after=len(answers))
            finally:
                stop.set()
                for poster in posters:
                    poster.join(30)
            assert {status for status, _ in answers} == {200, 201, 503}  # made, or 503
            assert all(shaped for _, shaped in answers)  # each dialect's 503, no 500
            accepted_once(receiver, before)
            for task_id in before:
                assert retrieve(a, task_id)["response"]["state"] == "completed"
                assert [x["status"] for x in delivered(b, task_id)["attempts"]] == [200]
            assert queued_for(redis.Redis.from_url(own.url()), before) == []
            assert a.process.poll() is None and b.process.poll() is None
        for server in (a, b):
            assert "the shared store cannot be reached" in server.fake.output
            assert "Traceback" not in server.fake.output
    finally:
        own.stop()


def test_a_callback_out_longer_than_a_short_lease_stays_its_senders(redis_url: str) -> None:
    # A lease shorter than the attempt's timeout (10 s): while the POST is out, the
    # event is held for the lease plus that timeout, so no process — the sender's own
    # runner included — takes it over and posts the same callback again.
    store = redis.Redis.from_url(redis_url)
    lease = 0.2
    args = ("--store", f"{redis_url}?lease={lease}", "--delay", "1")
    args += ("--callback-allow", "127.0.0.1")
    with HoldingReceiver() as receiver, servers(2, *args) as (a, b):
        made = generate(a, callback_url=receiver.url)
        (held,) = receiver.wait_count(1, timeout=30)  # one process is mid-attempt
        assert held.task_id == made
        [event] = [e.decode() for e in store.zrange(f"{PREFIX}:leased", 0, -1)]
        seconds, micros = store.time()
        held_until = store.zscore(f"{PREFIX}:leased", event)
        assert held_until is not None and held_until > seconds + micros / 1e6 + 5 * lease
        receiver.release()  # the held POST is answered 503: retried a second later
        accepted_once(receiver, [made])
        assert [attempt["status"] for attempt in delivered(b, made)["attempts"]] == [503, 200]
        assert len(receiver.received) == 2  # the held POST and its retry: nothing more
