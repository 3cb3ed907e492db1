"""One behavioural suite for the task store seam, run against both stores: the
in-memory one (the default) and the shared one on a real Redis server. Whatever a test
here says, both must do."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from mock_server.acedata import LumaService
from mock_server.engine.clock import ManualClock
from mock_server.engine.config import Settings
from mock_server.engine.delays import DelayModel, Fixed
from mock_server.engine.errors import ApiError
from mock_server.engine.shared.notes import PREFIX
from mock_server.engine.tasks import InMemoryTaskStore, Task, TaskState, TaskStore
from mock_server.harness.receiver import CallbackReceiver
from tests.support import PROMPT, TOKEN

BASE = "http://fake.test"
T0 = 1_700_000_000.0


def settings(**values: Any) -> Settings:
    base: dict[str, Any] = {
        "delays": DelayModel(Fixed(2.0), Fixed(60.0), Fixed(60.0)),
        "clock": "manual",
        "seed": 7,
    }
    return Settings(**base).with_values(values)


@pytest.fixture(params=["memory", "redis"])
def make_fake(request: pytest.FixtureRequest) -> Iterator[Callable[..., LumaService]]:
    """Makes fakes on the store under test (on Redis, each is one process's view)."""
    made: list[LumaService] = []
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None

    def make(**values: Any) -> LumaService:
        if url is None:
            fake = LumaService(settings(**values), clock=ManualClock(T0))
        else:
            # A fresh store starts its clock at T0, as the in-memory fakes here do.
            redis.Redis.from_url(url).set(f"{PREFIX}:clock", repr(T0), nx=True)
            fake = LumaService(settings(store=url, **values))
        made.append(fake)
        return fake

    yield make
    for fake in made:
        fake.close()


def generate(luma: LumaService, **body: Any) -> str:
    answer = luma.videos({"prompt": PROMPT, "async": True, **body}, token=TOKEN, base_url=BASE)
    return str(answer["task_id"])


def state(luma: LumaService, task_id: str) -> str:
    return str(luma.tasks({"id": task_id}, token=TOKEN)["response"]["state"])


def test_a_task_goes_pending_processing_completed_on_the_clock(make_fake: Any) -> None:
    luma = make_fake()
    task_id = generate(luma)
    assert state(luma, task_id) == "pending"
    luma.advance(2)
    assert state(luma, task_id) == "processing"
    luma.advance(59.5)
    assert state(luma, task_id) == "processing"
    luma.advance(0.5)
    record = luma.tasks({"id": task_id}, token=TOKEN)
    assert record["response"]["state"] == "completed"
    assert record["finished_at"] == T0 + 62  # at its planned time, not when looked at
    assert record["started_at"] == T0 + 2


def test_a_task_ends_once_however_often_it_is_ended(make_fake: Any) -> None:
    luma = make_fake()
    task_id = generate(luma)
    luma.advance(10)
    luma.fail(task_id, "used_up")
    luma.complete(task_id)  # too late: it has failed
    luma.advance(100)  # and its planned end finds it ended
    task = luma.task(task_id)
    assert task.state is TaskState.FAILED
    assert task.error is not None and task.error.code == "used_up"
    assert task.finished_at == T0 + 10


def test_the_store_ends_a_task_once(make_fake: Any) -> None:
    luma = make_fake()
    task = luma.task(generate(luma))
    store: TaskStore = luma.store
    assert store.end(task, TaskState.FAILED, T0 + 1, None, ApiError("api_error"))
    again = store.get(task.id)
    assert again is not None
    assert not store.end(again, TaskState.COMPLETED, T0 + 2, {"x": 1}, None)
    kept = store.get(task.id)
    assert kept is not None and kept.state is TaskState.FAILED and kept.finished_at == T0 + 1


def test_the_output_index_finds_an_extendable_video(make_fake: Any) -> None:
    luma = make_fake(delay="instant")
    first = luma.videos({"prompt": PROMPT}, token=TOKEN, base_url=BASE)
    extended = luma.videos(
        {"action": "extend", "video_id": first["video_id"], "prompt": "on"},
        token=TOKEN,
        base_url=BASE,
    )
    assert extended["state"] == "completed"
    assert (extended["video_width"], extended["video_height"]) == (
        first["video_width"],
        first["video_height"],
    )


def test_a_task_is_its_tokens_only(make_fake: Any) -> None:
    luma = make_fake()
    task_id = generate(luma)
    with pytest.raises(ApiError) as raised:
        luma.tasks({"id": task_id}, token="someone-else")
    assert raised.value.code == "not_found"


def test_finished_tasks_are_evicted_oldest_first_running_ones_never(make_fake: Any) -> None:
    luma = make_fake(max_tasks=2)
    running = generate(luma)
    done = generate(luma)
    luma.complete(done)
    newest = generate(luma)  # three kept is one too many: the finished one goes
    assert luma.store.get(done) is None
    assert {t.id for t in luma.store} == {running, newest}
    assert luma.store.evicted == 1  # type: ignore[attr-defined]
    extra = generate(luma)  # nothing finished to evict: running tasks are kept
    assert len(luma.store) == 3 and luma.store.get(extra) is not None


def test_eviction_goes_by_when_tasks_finished_and_takes_their_video_and_media(
    make_fake: Any,
) -> None:
    from mock_server.web.app import create_app

    luma = make_fake(max_tasks=3)
    web = create_app(luma).test_client()
    made_first, made_second, running = generate(luma), generate(luma), generate(luma)
    luma.complete(made_second)  # finished first, though made later
    luma.complete(made_first)
    video = {t: luma.task(t).output_id for t in (made_first, made_second)}
    assert web.get(f"/luma/{made_second}.mp4").status_code == 200
    newest = generate(luma)
    assert luma.store.get(made_second) is None and luma.store.get(made_first) is not None
    assert luma.store.by_output(video[made_second]) is None  # the output index forgot it
    assert web.get(f"/luma/{made_second}.mp4").status_code == 404
    assert web.get(f"/luma/{made_first}.mp4").status_code == 200
    with pytest.raises(ApiError) as raised:  # an evicted video cannot be extended
        extend = {"action": "extend", "video_id": video[made_second], "prompt": "on"}
        luma.videos(extend, token=TOKEN, base_url=BASE)
    assert raised.value.code == "not_found" and "video_id" in raised.value.message
    assert {t.id for t in luma.store} == {made_first, running, newest}
    luma.advance(62)  # running and newest finish, after made_first: it goes next
    generate(luma)
    assert luma.store.get(made_first) is None and luma.store.get(running) is not None
    assert luma.store.evicted == 2  # type: ignore[attr-defined]
    luma.reset()  # the count is of the store's life, not of one run of tests
    assert luma.store.evicted == 2  # type: ignore[attr-defined]


def test_callback_logs_are_bounded_like_tasks_one_under_way_never_forgotten(
    make_fake: Any,
) -> None:
    luma = make_fake(max_tasks=2, callback_backoff=1.0)
    with CallbackReceiver() as receiver:
        receiver.answer(500)  # the first task's first attempt fails: a retry is due
        failing = generate(luma, callback_url=receiver.url)
        luma.complete(failing)
        delivered = []
        for _ in range(3):
            delivered.append(generate(luma, callback_url=receiver.url))
            luma.complete(delivered[-1])
        logs = {d.task_id: d for d in luma.callbacks.all()}
        # Two kept: the oldest, still under way, and the newest; the finished went first.
        assert set(logs) == {failing, delivered[-1]}
        assert logs[failing].state == "scheduled" and len(logs[failing].attempts) == 1
        luma.advance(1)  # the retry is delivered: now it has finished, after delivered[-1]
        receiver.wait_for(failing)
        later = generate(luma, callback_url=receiver.url)
        luma.complete(later)
        logs = {d.task_id: d for d in luma.callbacks.all()}
        assert set(logs) == {failing, later}  # delivered[-1] finished first: it went
        assert [a.status for a in logs[failing].attempts] == [500, 200]
        assert luma.callbacks.get(delivered[-1]) is None


def test_a_held_synchronous_call_gets_the_result_when_the_clock_moves(make_fake: Any) -> None:
    luma = make_fake()
    answers: list[dict[str, Any]] = []
    call = threading.Thread(
        target=lambda: answers.append(luma.videos({"prompt": PROMPT}, token=TOKEN, base_url=BASE))
    )
    call.start()
    luma.wait_until(lambda: len(luma.store) == 1)
    luma.advance(62)
    call.join(10)
    assert answers and answers[0]["state"] == "completed"


def test_reset_forgets_tasks_and_puts_the_clock_back(make_fake: Any) -> None:
    luma = make_fake()
    task_id = generate(luma)
    luma.advance(30)
    luma.reset()
    assert len(luma.store) == 0 and luma.store.get(task_id) is None
    assert luma.clock.now() == T0
    luma.advance(100)  # the forgotten task's end finds nothing to end
    assert len(luma.store) == 0
    assert state(luma, generate(luma)) == "pending"


def test_a_removed_task_is_gone_and_its_end_does_nothing(make_fake: Any) -> None:
    luma = make_fake()
    task_id = generate(luma)
    removed = luma.store.remove(task_id)
    assert removed is not None and removed.id == task_id
    assert luma.store.get(task_id) is None and len(luma.store) == 0
    luma.advance(100)
    assert luma.store.get(task_id) is None


def test_the_in_memory_store_hands_out_the_task_itself() -> None:
    """The seam's one difference, kept on purpose: in memory a kept task is the same
    object (no copying on the hot path); a shared store hands out fresh ones."""
    store = InMemoryTaskStore()
    task = Task("a", "b", "generate", {}, TOKEN, "t", "16:9", BASE, T0, ManualClock(T0))
    store.add(task)
    assert store.get("a") is task and store.current(task) is task


# -- the journal, in memory and shared ---------------------------------------------------


def call_through_http(luma: LumaService, prompt: str) -> str:
    from mock_server.web.app import create_app

    answer = (
        create_app(luma)
        .test_client()
        .post(
            "/luma/videos",
            json={"prompt": prompt, "async": True},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    )
    assert answer.status_code == 200
    return str(answer.get_json()["task_id"])


def test_the_journal_keeps_requests_in_order_filtered_and_bounded(make_fake: Any) -> None:
    luma = make_fake(journal_limit=3)
    made = [call_through_http(luma, f"take {n}") for n in range(4)]
    kept = luma.journal.entries(path="/luma/videos")
    assert [e.task_id for e in kept] == made[1:]  # the oldest went
    assert [e.body["prompt"] for e in kept] == ["take 1", "take 2", "take 3"]
    assert all(e.status == 200 and e.answer == {"task_id": e.task_id} for e in kept)
    assert luma.journal.entries(since=kept[1].seq) == kept[2:]
    assert luma.journal.last_seq() == kept[-1].seq
    luma.journal.clear()
    assert luma.journal.entries() == []


def test_a_journal_wait_wakes_when_the_entry_comes(make_fake: Any) -> None:
    luma = make_fake()
    since = luma.journal.last_seq()
    waiter = threading.Thread(target=lambda: call_through_http(luma, "awaited"))
    waiter.start()
    found = luma.journal.wait(timeout=10, since=since, path="/luma/videos", answered=True)
    waiter.join(10)
    assert found.body["prompt"] == "awaited" and found.status == 200
    with pytest.raises(TimeoutError):
        luma.journal.wait(timeout=0.05, path="/nowhere")
