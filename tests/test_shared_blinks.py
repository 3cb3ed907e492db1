"""Callbacks across a blink of the shared store, with no crash anywhere: a living process
that posted a callback while Redis went away settles it once Redis answers (so the
attempt is neither lost from the log nor posted again when its lease lapses), a settle
sent twice logs its attempt once, and a task's end and its callback's delivery are one
step (an outage or a kill between them cannot leave a task ended and never called back,
whether it ended on its plan or through the control API)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from mock_server.acedata import LumaService
from mock_server.engine.config import Settings
from mock_server.engine.delays import DelayModel, Fixed
from mock_server.engine.shared.notes import PREFIX
from mock_server.engine.shared.tasks import RedisTaskStore
from mock_server.harness.receiver import CallbackReceiver
from tests.redis_server import RedisServer, start_redis
from tests.support import PROMPT, TOKEN, InThread, LiveServer, live_server
from tests.test_shared_crashes import advance, delivered, generate, queued_for

T0 = 1_700_000_000.0
BASE = "http://fake.test"
LEASE = 4.0  # seconds: longer than the blink below


class BlinkingReceiver(CallbackReceiver):
    """Takes the store away (a SIGKILL of its durable Redis) when the first callback
    arrives, then answers it 200: the sender's settle meets the outage. Notes until
    when (Redis's clock) the sender held the attempt's event."""

    def __init__(self, server: RedisServer) -> None:
        super().__init__()
        self.server = server
        self.held_until: float | None = None

    def _record(self, path: str, headers: dict[str, str], raw: bytes) -> int:
        if self.held_until is None:
            store = redis.Redis.from_url(self.server.url())
            [(_, held)] = store.zrange(f"{PREFIX}:leased", 0, -1, withscores=True)
            self.held_until = float(held)
            store.close()
            self.server.kill()
        return super()._record(path, headers, raw)


def wait_past(store: redis.Redis, when: float) -> None:
    """Until ``when`` has passed on Redis's clock. A lease lapses by time alone: nothing
    announces it, so this waits out the time left (read from Redis, not guessed)."""
    seconds, micros = store.time()
    left = when - (seconds + micros / 1e6)
    if left > 0:
        threading.Event().wait(left + 0.05)
    seconds, micros = store.time()
    assert seconds + micros / 1e6 > when


def advance_answers(server: LiveServer, seconds: float) -> int:
    return server.post("/__admin/clock/advance", {"seconds": seconds}).status_code


def test_a_callback_posted_as_redis_blinks_is_settled_once_it_is_back() -> None:
    own = start_redis(durable=True)  # what it held comes back with it
    try:
        store = redis.Redis.from_url(own.url())
        store.set(f"{PREFIX}:clock", repr(T0))
        args = ("--store", f"{own.url()}?lease={LEASE}", "--clock", "manual", "--delay", "10")
        args += ("--callback-allow", "127.0.0.1")
        env = {"LUMA_MOCK_CALLBACK_TIMEOUT": "1"}  # the hold: a lease and a second
        with (
            BlinkingReceiver(own) as receiver,
            live_server(*args, env=env) as a,
            live_server(*args, env=env) as b,
        ):
            task_id = generate(a, callback_url=receiver.url)
            # A's move ends the task and posts its callback; the receiver takes Redis
            # away before answering 200, so A's settle fails, and the move answers.
            assert advance_answers(a, 10) in (200, 503)
            own.start_again()  # back within the lease
            assert receiver.held_until is not None
            wait_past(store, receiver.held_until)  # the hold A took before its POST lapses
            advance(b, 1)  # claims what is due or lapsed, and runs it, before answering
            assert len(receiver.received) == 1  # posted once: no claim found it again
            log = delivered(b, task_id)  # A settled it when Redis answered: one log
            assert log["state"] == "delivered"
            assert [attempt["status"] for attempt in log["attempts"]] == [200]
            assert queued_for(store, [task_id]) == []  # nothing left that could send it
            assert "its outcome is kept" in a.fake.log
            assert a.process.poll() is None and b.process.poll() is None
        for server in (a, b):
            assert "Traceback" not in server.fake.output
    finally:
        own.stop()


@pytest.fixture
def engines(redis_url: str) -> Iterator[Callable[..., LumaService]]:
    """Engines on one store, as separate processes hold them, with a short lease."""
    redis.Redis.from_url(redis_url).set(f"{PREFIX}:clock", repr(T0))
    made: list[LumaService] = []

    def make(**values: Any) -> LumaService:
        settings = Settings(
            delays=DelayModel(Fixed(2.0), Fixed(60.0), Fixed(60.0)),
            clock="manual",
            seed=7,
            callback_allow=("127.0.0.1",),
        ).with_values({"store": f"{redis_url}?lease=0.3", **values})
        made.append(LumaService(settings))
        return made[-1]

    yield make
    for engine in made:
        engine.close()


def generate_with_callback(luma: LumaService, receiver: CallbackReceiver) -> str:
    body = {"prompt": PROMPT, "async": True, "callback_url": receiver.url}
    return str(luma.videos(body, token=TOKEN, base_url=BASE)["task_id"])


def blink_after_end(store: RedisTaskStore) -> None:
    """The seam between a task's end and what follows it: the end's script runs, then
    the store goes away (as if Redis blinked, or the process were killed, right there),
    so nothing after the end runs in this process."""
    real = store.end

    def end(*args: Any, **kwargs: Any) -> bool:
        if not real(*args, **kwargs):
            return False
        store.end = real  # type: ignore[method-assign]  # once
        raise redis.ConnectionError("the store went away right after the task's end")

    store.end = end  # type: ignore[method-assign]


def lapse_leases(store: redis.Redis) -> None:
    """Until every lease now held has lapsed (Redis's clock)."""
    held = store.zrange(f"{PREFIX}:leased", -1, -1, withscores=True)
    if held:
        wait_past(store, float(held[0][1]))


def test_a_task_ending_on_its_plan_as_the_store_blinks_still_calls_back_once(
    engines: Any, redis_url: str
) -> None:
    store = redis.Redis.from_url(redis_url)
    with CallbackReceiver() as receiver:
        a, b = engines(), engines()
        task_id = generate_with_callback(a, receiver)
        blink_after_end(a.store)
        a.advance(62)  # A runs the end; the blink keeps it from acknowledging it
        assert b.task(task_id).state.value == "completed"
        assert [c.task_id for c in receiver.wait_count(1)] == [task_id]
        lapse_leases(store)
        b.advance(1)  # the end's event, lapsed, runs again: the task has ended, no more
        assert queued_for(store, [task_id]) == []
        assert [c.task_id for c in receiver.received] == [task_id]  # once
        assert [x.status for x in b.wait_for_callback(task_id).attempts] == [200]


@pytest.mark.parametrize("how", ["complete", "fail"])
def test_a_task_ended_through_the_control_api_as_the_store_blinks_still_calls_back_once(
    engines: Any, redis_url: str, how: str
) -> None:
    store = redis.Redis.from_url(redis_url)
    with CallbackReceiver() as receiver:
        a, b = engines(), engines()
        task_id = generate_with_callback(a, receiver)
        blink_after_end(b.store)
        with pytest.raises(redis.ConnectionError):
            getattr(b, how)(task_id)  # ended; the call itself met the blink
        assert a.task(task_id).state.value == ("completed" if how == "complete" else "failed")
        a.advance(0)  # its callback is due now: whichever process moves the clock sends it
        [received] = receiver.wait_count(1)
        assert received.task_id == task_id
        assert received.body == a.dialect.response(a.task(task_id))  # as it ended
        a.advance(62)  # the planned end comes: the task has ended, nothing more
        lapse_leases(store)
        b.advance(1)
        assert queued_for(store, [task_id]) == []
        assert len(receiver.received) == 1


def test_a_settle_whose_reply_is_lost_logs_its_attempt_once(engines: Any) -> None:
    with CallbackReceiver() as receiver:
        a, b = engines(), engines()
        task_id = generate_with_callback(a, receiver)
        real = a.callbacks._settle_script
        tries: list[int] = []
        settled_again = threading.Event()

        def lost_reply(**kwargs: Any) -> Any:
            answer = real(**kwargs)  # it ran in Redis ...
            tries.append(answer)
            if len(tries) == 1:  # ... but the connection dropped before its reply came
                raise redis.ConnectionError("connection lost before the reply")
            settled_again.set()
            return answer

        a.callbacks._settle_script = lost_reply
        a.advance(62)
        assert settled_again.wait(30)  # A, not knowing, settled it again
        delivery = b.wait_for_callback(task_id)
        assert [x.status for x in delivery.attempts] == [200]  # logged once
        assert tries == [1, 2]  # the second found it logged already
        assert len(receiver.received) == 1


def test_a_blink_longer_than_the_hold_posts_twice_and_logs_both(
    engines: Any, redis_url: str
) -> None:
    # The documented limit: Redis back only after the hold A took before its POST has
    # lapsed, B claims the event first and posts it again; A's late settle still logs
    # the attempt the receiver saw (and changes nothing else).
    store = redis.Redis.from_url(redis_url)
    with CallbackReceiver() as receiver:
        a, b = engines(callback_timeout=0.5), engines(callback_timeout=0.5)
        task_id = generate_with_callback(a, receiver)
        real = a.callbacks._settle_script
        back, settled_late = threading.Event(), threading.Event()

        def away_until_back(**kwargs: Any) -> Any:
            if not back.is_set():
                raise redis.ConnectionError("the store is away")
            answer = real(**kwargs)
            settled_late.set()
            return answer

        a.callbacks._settle_script = away_until_back
        a.advance(62)  # A posts; its settle cannot reach the store
        [event] = store.zrange(f"{PREFIX}:leased", 0, -1, withscores=True)
        wait_past(store, event[1])
        b.advance(0)  # B claims the lapsed event and posts again: delivered, by B
        assert [x.status for x in b.wait_for_callback(task_id).attempts] == [200]
        back.set()  # the store answers A again
        assert settled_late.wait(30)
        delivery = b.callbacks.get(task_id)
        assert delivery is not None and delivery.state == "delivered"
        assert [(x.number, x.status) for x in delivery.attempts] == [(1, 200), (1, 200)]
        assert len(receiver.received) == 2
        assert queued_for(store, [task_id]) == []


def test_a_clock_move_cut_short_by_a_blink_does_not_hold_the_clock() -> None:
    # The move takes a Redis lock (freed by itself only after a minute); Redis goes away
    # during the move, so the move cannot free it then: it does once Redis is back, and
    # a move through another process goes ahead at once.
    own = start_redis(durable=True)
    try:
        redis.Redis.from_url(own.url()).set(f"{PREFIX}:clock", repr(T0))
        settings = Settings(
            delays=DelayModel(Fixed(2.0), Fixed(60.0), Fixed(60.0)), clock="manual", seed=7
        ).with_values({"store": own.url()})
        a, b = LumaService(settings), LumaService(settings)
        try:
            a.videos({"prompt": PROMPT, "async": True}, token=TOKEN, base_url=BASE)
            real = a.store.end

            def end_then_blink(*args: Any, **kwargs: Any) -> bool:
                ended = real(*args, **kwargs)
                own.kill()  # Redis away in the middle of the move
                return ended

            a.store.end = end_then_blink  # type: ignore[method-assign]
            with pytest.raises(redis.ConnectionError):
                a.advance(62)
            own.start_again()
            moving = InThread(b.advance, 1)
            assert moving.join(timeout=15) == T0 + 63  # not a minute later
        finally:
            a.close()
            b.close()
    finally:
        own.stop()


class Heard(logging.Handler):
    """The log records of one logger, and an event once one at WARNING or above came."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.came = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.came.set()


def test_a_blink_before_the_post_is_one_line_and_the_attempt_is_made_once_later(
    engines: Any, redis_url: str
) -> None:
    store = redis.Redis.from_url(redis_url)
    heard, logger = Heard(), logging.getLogger("luma_mock.callbacks")
    logger.addHandler(heard)
    try:
        with CallbackReceiver() as receiver:
            a, b = engines(), engines()
            task_id = generate_with_callback(a, receiver)
            real = a.callbacks.due.renew

            def away(*args: Any, **kwargs: Any) -> bool:
                raise redis.ConnectionError("the store is away")

            a.callbacks.due.renew = away  # A claims the attempt, then cannot hold it
            a.advance(62)
            assert heard.came.wait(30)
            [record] = heard.records
            assert record.exc_info is None and "cannot be reached" in record.getMessage()
            assert receiver.received == []  # nothing posted
            a.callbacks.due.renew = real
            lapse_leases(store)
            b.advance(1)  # the lapsed attempt is claimed again, and made
            assert [x.status for x in b.wait_for_callback(task_id).attempts] == [200]
            assert len(receiver.received) == 1
    finally:
        logger.removeHandler(heard)
