"""The dashboard of one process on a shared store shows the whole fake: its live stream
(/__admin/events) tells of tasks made, ended and called back through *another* real
process on the same Redis, and its data endpoints read them — the notices travel
between processes by the store's pub/sub (`engine.shared.notes`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis

from mock_server.engine.shared.notes import PREFIX
from mock_server.harness.receiver import CallbackReceiver
from tests.support import PROMPT, LiveServer, live_server
from tests.test_dashboard import open_events, read_events

T0 = 1_700_000_000.0
MOST = 50  # events read while looking for one: a stream that never tells it fails


class Watcher:
    """A client of one process's /__admin/events: every event it has read, in order."""

    def __init__(self, server: LiveServer) -> None:
        self.stream = open_events(server.url)
        assert self.stream.status == 200
        self.events: list[tuple[str, Any]] = []

    def seen(self, name: str, wanted: Callable[[Any], bool]) -> dict[str, Any]:
        """The first ``name`` event, read so far or next, whose data is ``wanted`` (the
        notices of one change may come in any order); at most ``MOST`` more are read,
        each within the connection's timeout."""
        for _ in range(MOST):
            for kind, data in self.events:
                if kind == name and wanted(data):
                    return dict(data)
            self.events += read_events(self.stream, 1)
        raise AssertionError(f"no such {name} event among {self.events}")


def advance(server: LiveServer, seconds: float) -> None:
    moved = server.post("/__admin/clock/advance", {"seconds": seconds})
    assert moved.status_code == 200, moved.text


def test_one_process_streams_tasks_ends_and_callbacks_made_through_another(
    redis_url: str,
) -> None:
    redis.Redis.from_url(redis_url).set(f"{PREFIX}:clock", repr(T0))
    args = ("--store", redis_url, "--clock", "manual", "--delay", "10")
    args += ("--callback-allow", "127.0.0.1")
    with CallbackReceiver() as receiver, live_server(*args) as a, live_server(*args) as b:
        watcher = Watcher(b)  # B's dashboard; everything below is done through A
        hello = watcher.seen("hello", lambda d: True)  # subscribed: B listens from now on
        assert hello["now"] == T0
        receiver.answer(500)  # the first attempt fails: a retry, later, by itself
        body = {"prompt": "made on A", "async": True, "callback_url": receiver.url}
        made = a.post("/luma/videos", body)
        assert made.status_code == 200, made.text
        task_id = made.json()["task_id"]

        row = watcher.seen("task", lambda d: d["id"] == task_id)
        assert row["state"] == "processing" and row["prompt"] == "made on A"  # --delay 10: no queue
        entry = watcher.seen("journal", lambda d: d["task_id"] == task_id)
        assert entry["path"] == "/luma/videos" and entry["status"] == 200

        advance(a, 10)  # through A: the task ends, A claims and makes the first attempt
        assert watcher.seen("clock", lambda d: d["now"] == T0 + 10)
        ended = watcher.seen("task", lambda d: d["id"] == task_id and d["state"] == "completed")
        assert ended["finished_at"] == T0 + 10
        receiver.wait_count(1)
        advance(a, 1)  # the retry falls due: only the callback changes now
        retried = watcher.seen(
            "task",
            lambda d: d["id"] == task_id and len(d["callback"]["attempts"]) == 2,
        )
        assert retried["callback"]["state"] == "delivered"
        assert [m["status"] for m in retried["callback"]["attempts"]] == [500, 200]
        receiver.wait_for(task_id)
        attempt = watcher.seen("journal", lambda d: d["kind"] == "callback" and d["attempt"] == 2)
        assert attempt["task_id"] == task_id

        # What the page then reads from B is the same story.
        page = b.session.get(b.url + "/__admin/tasks", timeout=10).json()
        assert [r["id"] for r in page["tasks"]] == [task_id] and page["total"] == 1
        detail = b.session.get(f"{b.url}/__admin/tasks/{task_id}/detail", timeout=10).json()
        assert detail["answer"] == {"task_id": task_id}
        assert [x["status"] for x in detail["callbacks"][0]["attempts"]] == [500, 200]
        watcher.stream.close()


def test_on_a_real_clock_a_callback_made_by_either_process_is_streamed_by_both(
    redis_url: str,
) -> None:
    """Each process's runner claims due attempts on a real clock: whichever made one,
    both dashboards tell of it (one from its own attempt, the other from the note)."""
    args = ("--store", redis_url, "--delay", "instant", "--callback-allow", "127.0.0.1")
    with CallbackReceiver() as receiver, live_server(*args) as a, live_server(*args) as b:
        watchers = [Watcher(a), Watcher(b)]
        for watcher in watchers:
            watcher.seen("hello", lambda d: True)
        made = [
            a.post("/luma/videos", {"prompt": PROMPT, "callback_url": receiver.url}).json()
            for _ in range(4)
        ]
        for answer in made:
            task_id = answer["task_id"]
            receiver.wait_for(task_id)
            for watcher in watchers:
                row = watcher.seen(
                    "task",
                    lambda d, t=task_id: d["id"] == t and d["callback"]["state"] == "delivered",
                )
                assert [m["status"] for m in row["callback"]["attempts"]] == [200]
        for watcher in watchers:
            watcher.stream.close()
