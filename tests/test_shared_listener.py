"""A process whose ear on the store was cut (its connections dropped, and refused for a
while) misses the notes published meanwhile; once subscribed again it looks again at
everything it waits for: a waiter, and a call held for a task, both in process B, are
answered when process A ended the task while B could not listen — not when their own
timeouts run out. B reaches Redis as a user of its own, so the test can shut it out
(`ACL SETUSER … off` and `CLIENT KILL USER`) while A goes on."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from mock_server.engine.shared import listener
from mock_server.engine.shared.notes import LISTENING
from tests.support import PROMPT, TOKEN
from tests.test_shared_blinks import BASE, engines  # noqa: F401 - the fixture

GAP = 2.0  # seconds B's listener waits before subscribing again: the notes go unheard


def until(condition: Callable[[], Any], what: str) -> None:
    """Poll a state nothing announces (another thread's progress), bounded."""
    pause = threading.Event()
    for _ in range(500):
        if condition():
            return
        pause.wait(0.01)
    raise AssertionError(f"never: {what}")


def b_listens(store: redis.Redis) -> bool:
    return any(c["user"] == "b" and int(c["sub"]) > 0 for c in store.client_list())


@contextlib.contextmanager
def shut_out(store: redis.Redis) -> Iterator[None]:
    """B's connections dropped and refused, then let in again: what A says meanwhile,
    B cannot hear (the test checks that B did not listen when A had spoken)."""
    store.acl_setuser("b", enabled=False)
    store.client_kill_filter(user="b")
    until(lambda: not b_listens(store), "B's listener is cut")
    try:
        yield
    finally:
        store.acl_setuser("b", enabled=True)


@pytest.fixture
def pair(request: pytest.FixtureRequest, redis_url: str) -> tuple[Any, Any]:
    """Processes A and B on one store (`test_shared_blinks.engines`); B as user ``b``."""
    store = redis.Redis.from_url(redis_url)
    rights: dict[str, Any] = {"keys": ["*"], "channels": ["*"], "commands": ["+@all"]}
    store.acl_setuser("b", enabled=True, passwords=["+secret"], **rights)
    make = request.getfixturevalue("engines")
    b_url = redis_url.replace("redis://", "redis://b:secret@", 1) + "?lease=0.3"
    return make(), make(store=b_url)  # the user stays: the engines close after this


@pytest.fixture(autouse=True)
def long_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listener, "OUTAGE_RETRY", GAP)


def test_a_waiter_hears_of_an_end_said_while_its_listener_was_away(
    pair: Any, redis_url: str
) -> None:
    a, b = pair
    store = redis.Redis.from_url(redis_url)
    task_id = str(
        a.videos({"prompt": PROMPT, "async": True}, token=TOKEN, base_url=BASE)["task_id"]
    )
    seen: list[Any] = []
    waiter = threading.Thread(target=lambda: seen.append(b.wait_for_state(task_id, timeout=30)))
    waiter.start()
    until(lambda: b._waiting == 1 and store.hexists(LISTENING, b.backing.origin), "B waits")
    with shut_out(store):
        a.complete(task_id)  # its "end" note reaches nobody
        assert not b_listens(store)
    waiter.join(timeout=GAP + 10)  # far less than the wait's own 30 s
    assert not waiter.is_alive(), "B's waiter missed the end"
    assert seen[0].state.value == "completed"


def test_a_held_call_is_answered_for_an_end_said_while_its_listener_was_away(
    pair: Any, redis_url: str
) -> None:
    a, b = pair
    store = redis.Redis.from_url(redis_url)
    answers: list[dict[str, Any]] = []
    body = {"prompt": PROMPT, "async": False, "timeout": 300}
    held = threading.Thread(
        target=lambda: answers.append(b.videos(body, token=TOKEN, base_url=BASE))
    )
    held.start()
    until(lambda: len(b.store) == 1 and b._sync_waits, "B holds the call")
    [task] = list(b.store)
    until(lambda: store.hexists(LISTENING, b.backing.origin), "B listens")
    with shut_out(store):
        a.complete(task.id)
        assert not b_listens(store)
    held.join(timeout=GAP + 10)
    assert not held.is_alive(), "B's held call missed the end"
    assert answers[0]["task_id"] == task.id and answers[0]["success"] is True
