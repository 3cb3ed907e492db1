"""A shared store stays bounded, as the in-memory one does (the behaviour itself is in
the shared suite of tests/test_store.py): past ``--max-tasks`` what an evicted task or
callback log held in Redis is gone — its keys, not only its place in the listings — so
the number of keys under the prefix stops growing, however many tasks pass through
however many processes; the journal keeps its limit in Redis too."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from mock_server.acedata import LumaService
from mock_server.engine.config import Settings
from mock_server.engine.delays import DelayModel, Fixed
from mock_server.engine.shared.notes import PREFIX
from mock_server.harness.receiver import CallbackReceiver
from tests.support import PROMPT, TOKEN, LiveServer, live_server

BASE = "http://fake.test"
T0 = 1_700_000_000.0
KEPT = 5
# The keys a task or a callback log has of its own (the rest are the store's, one each).
OWN = re.compile(rf"^{PREFIX}:acedata:(t|cb|cba):(.+)$")


def keys(store: redis.Redis) -> list[str]:
    return sorted(key.decode() for key in store.scan_iter(match=f"{PREFIX}:*", count=1000))


def own_keys(store: redis.Redis) -> dict[str, set[str]]:
    """Per kind (``t`` a task, ``cb`` a delivery, ``cba`` its attempts), the ids that
    have a key of their own."""
    found: dict[str, set[str]] = {"t": set(), "cb": set(), "cba": set()}
    for key in keys(store):
        if (match := OWN.match(key)) is not None:
            found[match[1]].add(match[2])
    return found


@pytest.fixture
def processes(redis_url: str) -> Iterator[Callable[..., LumaService]]:
    """Engines on one store, as separate processes would hold them."""
    redis.Redis.from_url(redis_url).set(f"{PREFIX}:clock", repr(T0))
    made: list[LumaService] = []

    def make(**values: Any) -> LumaService:
        delays = DelayModel(Fixed(2.0), Fixed(60.0), Fixed(60.0))
        settings = Settings(delays=delays, clock="manual", seed=7)
        made.append(LumaService(settings.with_values({"store": redis_url, **values})))
        return made[-1]

    yield make
    for engine in made:
        engine.close()


def test_past_max_tasks_evicted_tasks_and_logs_leave_no_key_behind(
    processes: Any, redis_url: str
) -> None:
    store = redis.Redis.from_url(redis_url)
    a, b = (processes(max_tasks=KEPT, journal_limit=7) for _ in range(2))
    counts: list[int] = []
    with CallbackReceiver() as receiver:
        for round_ in range(2):
            for n in range(20):
                made, other = (a, b) if n % 2 else (b, a)
                answer = made.videos(
                    {"prompt": PROMPT, "async": True, "callback_url": receiver.url},
                    token=TOKEN,
                    base_url=BASE,
                )
                other.complete(str(answer["task_id"]))  # its callback is sent, delivered
            receiver.wait_count(20 * (round_ + 1))
            counts.append(len(keys(store)))
    assert counts[0] == counts[1]  # 20 more tasks, not one more key
    kept = {t.id for t in a.store}
    assert len(kept) == KEPT and {t.id for t in b.store} == kept
    assert own_keys(store) == {"t": kept, "cb": kept, "cba": kept}
    assert a.store.evicted == b.store.evicted == 40 - KEPT  # type: ignore[attr-defined]
    sizes = {
        "outs": store.hlen(f"{PREFIX}:acedata:outs"),
        "order": store.zcard(f"{PREFIX}:acedata:order"),
        "finished": store.zcard(f"{PREFIX}:acedata:finished"),
        "cbs": store.zcard(f"{PREFIX}:acedata:cbs"),
        "cbdone": store.zcard(f"{PREFIX}:acedata:cbdone"),
        "journal": store.hlen(f"{PREFIX}:journal:entries"),
        "journal order": store.zcard(f"{PREFIX}:journal:order"),
    }
    assert sizes == {
        **dict.fromkeys(("outs", "order", "finished", "cbs", "cbdone"), KEPT),
        **dict.fromkeys(("journal", "journal order"), 7),
    }
    a.advance(120)  # every planned end (of tasks completed early) runs, finds them ended
    assert store.hlen(f"{PREFIX}:events") == 0 and store.zcard(f"{PREFIX}:due") == 0


def generate(server: LiveServer, **body: Any) -> str:
    answer = server.post("/luma/videos", {"prompt": PROMPT, "async": True, **body})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["task_id"])


def advance(server: LiveServer, seconds: float) -> None:
    moved = server.post("/__admin/clock/advance", {"seconds": seconds})
    assert moved.status_code == 200, moved.text


def test_two_processes_with_max_tasks_keep_five_tasks_and_a_bounded_store(redis_url: str) -> None:
    store = redis.Redis.from_url(redis_url)
    store.set(f"{PREFIX}:clock", repr(T0))
    args = ("--store", redis_url, "--clock", "manual", "--delay", "10")
    args += ("--max-tasks", str(KEPT), "--callback-allow", "127.0.0.1")
    made: list[str] = []
    counts: list[int] = []
    with CallbackReceiver() as receiver, live_server(*args) as a, live_server(*args) as b:
        for n in range(20):
            through, other = (a, b) if n % 2 else (b, a)
            made.append(generate(through, callback_url=receiver.url))
            advance(other, 10)  # it ends, through the other process; its callback goes
            if n + 1 in (10, 20):
                receiver.wait_count(n + 1)
                counts.append(len(keys(store)))
        assert counts[0] == counts[1]  # past the bound, ten more tasks add no key
        for server in (a, b):
            health = server.session.get(server.url + "/health", timeout=10).json()
            assert (health["tasks"], health["evicted"]) == (KEPT, 20 - KEPT)
        kept = made[-KEPT:]
        assert own_keys(store) == {"t": set(kept), "cb": set(kept), "cba": set(kept)}
        gone = made[0]
        assert b.post("/luma/tasks", {"id": gone}).status_code == 404
        assert a.session.get(f"{a.url}/luma/{gone}.mp4", timeout=10).status_code == 404
        assert a.session.get(f"{a.url}/luma/{kept[0]}.mp4", timeout=10).status_code == 200
        log = b.post(f"/__admin/tasks/{kept[0]}/callback/wait", {"timeout": 10})
        assert log.status_code == 200 and log.json()["state"] == "delivered"
        forgotten = b.session.get(f"{b.url}/__admin/tasks/{gone}/callback", timeout=10)
        assert forgotten.status_code == 404


def test_waiting_on_a_task_that_has_ended_leaves_no_watcher_behind(redis_url: str) -> None:
    # A sync call whose task ended before it began to wait (or a wait on a task already
    # gone) hears no end note later: its watcher must not stay in the process for good.
    settings = Settings(clock="manual", seed=7).with_values({"store": redis_url})
    luma = LumaService(settings)
    try:
        body = {"prompt": PROMPT, "async": True}
        task_id = luma.videos(body, token=TOKEN, base_url="http://fake.test")["task_id"]
        luma.complete(task_id)
        task = luma.store.get(task_id)
        assert task is not None and task.finished
        for _ in range(50):
            wake = threading.Event()
            luma.store.watch(task, wake)
            assert wake.is_set()  # the waiter looks again at once
        assert luma.store._watchers == {}
    finally:
        luma.close()
