"""A real clock's runner on the shared store sleeps until the next event falls due (or a
lease lapses) instead of polling, and wakes at once for an event its own process adds
that falls due sooner. ``IDLE`` (its longest sleep) is made a minute here, so a runner
that polled, or slept through its own process's addition, would show it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from mock_server.acedata import LumaService
from mock_server.engine.config import Settings
from mock_server.engine.delays import DelayModel, Fixed
from mock_server.engine.shared import handle
from mock_server.harness.receiver import CallbackReceiver
from tests.support import PROMPT, TOKEN

BASE = "http://fake.test"


@pytest.fixture
def fake(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(handle, "IDLE", 60.0)
    settings = Settings(
        delays=DelayModel(Fixed(0.0), Fixed(0.3), Fixed(0.3)), callback_allow=("127.0.0.1",)
    ).with_values({"store": redis_url})
    luma = LumaService(settings)
    yield luma
    luma.close()


def test_an_idle_runner_sleeps_instead_of_polling(fake: Any) -> None:
    claims: list[int] = []
    real = fake.backing.due.claim

    def counted(*args: Any, **kwargs: Any) -> Any:
        claims.append(1)
        return real(*args, **kwargs)

    fake.backing.due.claim = counted
    threading.Event().wait(1.0)  # idle time is what this test is about: nothing to wait on
    assert len(claims) <= 1  # polling every 50 ms made about 20


def test_a_sleeping_runner_wakes_for_what_its_process_adds(fake: Any) -> None:
    with CallbackReceiver() as receiver:
        body = {"prompt": PROMPT, "callback_url": receiver.url}
        task_id = fake.videos(body, token=TOKEN, base_url=BASE)["task_id"]
        # Its end falls due in 0.3 s, long before the runner's minute: it must wake for
        # it, and then for the callback's first attempt, due at once.
        assert fake.wait_for_state(task_id, "completed", timeout=20).id == task_id
        assert fake.wait_for_callback(task_id, timeout=20).state == "delivered"
        assert [c.task_id for c in receiver.accepted()] == [task_id]
