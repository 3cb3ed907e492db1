"""Both dialects on one shared store, and callbacks as shared due events: a Dream Machine
generation made through one process is read and finished through another; every
callback attempt is claimed by one process and logged once for all; an attempt claimed
by a process that died is made by another, once."""

from __future__ import annotations

import itertools
import queue
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from mock_server.acedata import LumaService
from mock_server.dream_machine import DIALECT
from mock_server.engine.config import Settings
from mock_server.engine.delays import DelayModel, Fixed
from mock_server.engine.shared.due import DueQueue
from mock_server.engine.shared.notes import PREFIX
from mock_server.harness.receiver import CallbackReceiver
from mock_server.web.app import create_app
from tests.support import AUTH, PROMPT, TOKEN

T0 = 1_700_000_000.0
DM = "/dream-machine/v1"


@pytest.fixture
def processes(redis_url: str) -> Iterator[Callable[..., tuple[LumaService, Any]]]:
    """Makes a process's worth of fake — both dialects, one app — on one store."""
    redis.Redis.from_url(redis_url).set(f"{PREFIX}:clock", repr(T0))
    made: list[LumaService] = []

    def make(**values: Any) -> tuple[LumaService, Any]:
        settings = Settings(
            delays=DelayModel(Fixed(2.0), Fixed(60.0), Fixed(60.0)),
            clock="manual",
            seed=7,
            callback_allow=("127.0.0.1",),
        ).with_values({"store": redis_url, **values})
        luma = LumaService(settings)
        luma.fake.add(DIALECT)
        made.append(luma)
        return luma, create_app(luma).test_client()

    yield make
    for luma in made:
        luma.close()


def create(client: Any, **body: Any) -> str:
    body = {"model": "ray-2", "prompt": "a tiger", **body}
    answer = client.post(f"{DM}/generations/video", json=body, headers=AUTH)
    assert answer.status_code == 201, answer.get_json()
    return str(answer.get_json()["id"])


def test_a_generation_made_through_one_process_is_finished_through_another(
    processes: Any,
) -> None:
    (_, client_a), (b, client_b) = processes(), processes()
    generation_id = create(client_a)
    seen = client_b.get(f"{DM}/generations/{generation_id}", headers=AUTH)
    assert seen.status_code == 200 and seen.get_json()["state"] == "queued"
    b.advance(62)
    done = client_a.get(f"{DM}/generations/{generation_id}", headers=AUTH).get_json()
    assert done["state"] == "completed" and done["assets"]["video"].endswith(".mp4")
    listed = client_b.get(f"{DM}/generations", headers=AUTH).get_json()
    assert [g["id"] for g in listed["generations"]] == [generation_id]
    deleted = client_b.delete(f"{DM}/generations/{generation_id}", headers=AUTH)
    assert deleted.status_code == 204
    assert client_a.get(f"{DM}/generations/{generation_id}", headers=AUTH).status_code == 404


def test_dreaming_and_completed_callbacks_are_each_sent_once_across_processes(
    processes: Any,
) -> None:
    (a, client_a), (b, _) = processes(), processes()
    with CallbackReceiver() as receiver:
        generation_id = create(client_a, callback_url=receiver.url)
        b.advance(2)  # leaves the queue: one process claims the "dreaming" callback
        assert receiver.wait_count(1)[0].body["state"] == "dreaming"
        a.advance(60)
        bodies = [c.body for c in receiver.wait_count(2)]
        assert [body["state"] for body in bodies] == ["dreaming", "completed"]
        b.advance(60)
        assert len(receiver.received) == 2
    dream_machine_a, dream_machine_b = (
        a.fake.engines["dream-machine"],
        b.fake.engines["dream-machine"],
    )
    for engine in (dream_machine_a, dream_machine_b):  # one log, read through either
        assert engine.delivery(generation_id).state == "delivered"
        assert engine.delivery(f"{generation_id}:started").state == "delivered"
    attempts = a.journal.entries(kind="callback")
    assert len(attempts) == 2


def test_retries_are_shared_due_events_on_the_one_clock(processes: Any) -> None:
    (a, _), (b, _) = processes(), processes()
    with CallbackReceiver() as receiver:
        receiver.answer(500, 500, 200)
        body = {"prompt": PROMPT, "async": True, "callback_url": receiver.url}
        task_id = a.videos(body, token=TOKEN, base_url="http://fake.test")["task_id"]
        a.complete(task_id)  # the first attempt, now (the call has been answered)
        for fake in itertools.islice(itertools.cycle((b, a)), 3):
            fake.advance(8)  # AceData retries after 1, 2, 4 s: through either process
        delivery = b.wait_for_callback(task_id)
        assert delivery.state == "delivered"
        assert [attempt.status for attempt in delivery.attempts] == [500, 500, 200]
        assert len(receiver.received) == 3


def test_an_attempt_claimed_by_a_process_that_died_is_made_by_another_once(
    processes: Any, redis_url: str
) -> None:
    (a, _), (b, _) = processes(), processes()
    store = redis.Redis.from_url(redis_url)
    with CallbackReceiver() as receiver:
        receiver.answer(500)  # the first attempt fails: the retry is a due event, 1 s on
        body = {"prompt": PROMPT, "async": True, "callback_url": receiver.url}
        task_id = a.videos(body, token=TOKEN, base_url="http://fake.test")["task_id"]
        a.fail(task_id, "used_up")
        # A process that claims the retry and dies before it posts: its claim is leased,
        # and its lease runs out at once (lease 0).
        dead = DueQueue(store, PREFIX, owner=uuid.uuid4().hex, lease=0.0)
        claimed = dead.claim(a.clock.now() + 1)
        assert [event.payload["kind"] for event in claimed] == ["callback"]
        b.advance(1)  # the next claim takes the lapsed lease over and makes the attempt
        delivery = a.wait_for_callback(task_id)
        assert [attempt.status for attempt in delivery.attempts] == [500, 200]
        assert not dead.ack(claimed[0])  # no longer the dead one's
        a.advance(30)
        assert len(receiver.received) == 2


def post(client: Any, path: str, body: Any) -> Any:
    return client.post(path, json=body, headers=AUTH)


def test_one_rule_book_with_one_count_for_every_process(processes: Any) -> None:
    (a, client_a), (b, client_b) = processes(), processes()
    a.scenarios.add({"match": {"endpoint": "videos"}, "then": {"reject": "used_up"}, "times": 1})
    body = {"prompt": PROMPT, "async": True}
    refused = post(client_b, "/luma/videos", body)  # added through a, met through b
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "used_up"
    assert post(client_a, "/luma/videos", body).status_code == 200  # spent: once in all
    assert [r.matched for r in a.scenarios.list()] == [r.matched for r in b.scenarios.list()]
    assert a.scenarios.list()[0].matched == 1
    b.scenarios.clear()
    assert not a.scenarios.list()


def test_one_balance_and_one_rate_window_per_token_across_processes(processes: Any) -> None:
    (a, client_a), (b, client_b) = processes(credits=2), processes(credits=2)
    body = {"prompt": PROMPT, "async": True}
    assert post(client_a, "/luma/videos", body).status_code == 200
    assert post(client_b, "/luma/videos", body).status_code == 200
    spent = post(client_a, "/luma/videos", body)
    assert spent.status_code == 403 and spent.get_json()["error"]["code"] == "used_up"
    assert a.accounts.balance(TOKEN) == b.accounts.balance(TOKEN) == 0
    b.accounts.set_balance(TOKEN, None)
    a.accounts.set_rate_limit((2, 60.0))  # through a: held by b's very next call
    assert post(client_b, "/luma/videos", body).status_code == 200
    assert post(client_a, "/luma/videos", body).status_code == 200
    limited = post(client_b, "/luma/videos", body)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    a.advance(60)
    assert post(client_b, "/luma/videos", body).status_code == 200


def test_a_process_starting_later_keeps_the_rules_tests_added(processes: Any) -> None:
    rule = {"name": "configured", "match": {"endpoint": "videos"}, "then": {"reject": "used_up"}}
    (a, _) = processes(scenarios=(rule,))
    a.scenarios.add(
        {"name": "added", "match": {"endpoint": "tasks"}, "then": {"reject": "used_up"}}
    )
    (b, _) = processes(scenarios=(rule,))
    assert [r.name for r in b.scenarios.list()] == ["configured", "added"]
    b.reset()  # back to the configured rules, everywhere
    assert [r.name for r in a.scenarios.list()] == ["configured"]


def test_change_notices_cross_processes_once_and_only_to_listeners(
    processes: Any, redis_url: str
) -> None:
    """The dashboard of one process sees tasks made on another; the maker hears its own
    notice once (no echo); with nobody listening, nothing is published."""
    (a, client_a), (b, _) = processes(), processes()
    store = redis.Redis.from_url(redis_url)
    heard_a: queue.SimpleQueue[Any] = queue.SimpleQueue()
    heard_b: queue.SimpleQueue[Any] = queue.SimpleQueue()
    monitor = store.pubsub()
    monitor.subscribe(f"{PREFIX}:notes")
    monitor.get_message(timeout=5)  # the subscription's confirmation
    post(client_a, "/luma/videos", {"prompt": PROMPT, "async": True})
    assert monitor.get_message(timeout=0.2) is None  # nobody listens: nothing sent
    stop_a, stop_b = a.changes.subscribe(heard_a.put), b.changes.subscribe(heard_b.put)
    try:
        task_id = post(client_a, "/luma/videos", {"prompt": PROMPT, "async": True}).get_json()[
            "task_id"
        ]
        seen = heard_b.get(timeout=5)
        while seen.kind != "task":
            seen = heard_b.get(timeout=5)
        assert (seen.key, seen.dialect) == (task_id, "acedata")
        b.advance(62)  # b moved the clock: a hears of it, and of its task's end
        kinds: list[tuple[str, Any]] = []
        while ("clock", T0 + 62) not in kinds or kinds.count(("task", task_id)) < 2:
            change = heard_a.get(timeout=5)
            kinds.append((change.kind, change.key))
        assert kinds.count(("task", task_id)) == 2  # made, ended: once each, no echo
        assert heard_a.empty()
    finally:
        stop_a()
        stop_b()
        monitor.close()
