"""The engine without HTTP: the task's life, the clocks, sync waits, extend, the store."""

from __future__ import annotations

import random
import uuid

import pytest

from contract_tests.contract import check
from mock_server.acedata.service import LumaService
from mock_server.engine.clock import ManualClock
from mock_server.engine.config import Settings
from mock_server.engine.delays import DelayModel, Fixed
from mock_server.engine.errors import ApiError
from mock_server.engine.tasks import InMemoryTaskStore, TaskState
from tests.support import PROMPT, TOKEN, InThread, instant_service, manual_service

BASE = "http://fake.test"
T0 = 1_700_000_000.0


def create(luma: LumaService, token: str = TOKEN, **body: object):
    return luma.create_video({"prompt": PROMPT, **body}, token=token, base_url=BASE)


def test_task_moves_pending_processing_completed_on_the_manual_clock() -> None:
    luma = manual_service()
    task = create(luma, **{"async": True})
    record = luma.record(task)
    assert record["response"] == {"task_id": task.id, "state": "pending"}
    assert record["created_at"] == T0 and "started_at" not in record
    assert check("acedata/task-record", record).ok

    luma.advance(2)
    record = luma.record(task)
    assert record["response"]["state"] == "processing"
    assert record["started_at"] == T0 + 2 and "finished_at" not in record

    luma.advance(59.5)
    assert luma.record(task)["response"]["state"] == "processing"
    luma.advance(0.5)
    record = luma.record(task)
    assert record["response"]["state"] == "completed"
    assert record["finished_at"] == T0 + 62 and record["elapsed"] == 62
    assert (
        check("acedata/task-record", record).ok
        and check("acedata/videos-result", record["response"]).ok
    )


def test_one_advance_over_the_whole_life_stamps_each_event_at_its_own_time() -> None:
    luma = manual_service()
    task = create(luma)
    luma.advance(3600)
    assert (task.started_at, task.finished_at) == (T0 + 2, T0 + 62)
    assert luma.clock.now() == T0 + 3600


def test_a_wait_for_processing_wakes_when_the_task_leaves_the_queue() -> None:
    # Leaving the queue is read off the clock, not an event: the wait asks for one.
    luma = LumaService(Settings(delays=DelayModel(Fixed(0.2), Fixed(30), Fixed(30))))
    try:
        task = create(luma)
        assert task.state is TaskState.PENDING
        assert luma.wait_for_state(task.id, "processing", timeout=10) is task
        assert task.state is TaskState.PROCESSING and task.started_at == task.starts_at
        assert luma.record(task)["started_at"] == task.created_at + 0.2
    finally:
        luma.close()
    # What wakes it: the wait asks for an event at the moment the task leaves the queue.
    manual = manual_service()
    queued = create(manual)
    assert manual.scheduler.next_due() == T0 + 62  # only its end
    with pytest.raises(TimeoutError):
        manual.wait_for_state(queued.id, "processing", timeout=0)
    assert manual.scheduler.next_due() == queued.starts_at == T0 + 2


def test_a_task_ended_while_queued_started_when_it_ended() -> None:
    luma = manual_service()
    task = create(luma)
    luma.advance(1)
    luma.complete(task.id)
    assert (task.state, task.started_at, task.finished_at) == (TaskState.COMPLETED, T0 + 1, T0 + 1)
    luma.advance(3600)
    assert task.started_at == T0 + 1  # its planned start, now past, changes nothing


def test_real_clock_runs_the_task_in_the_background() -> None:
    luma = LumaService(Settings(delays=DelayModel(Fixed(0.01), Fixed(0.05), Fixed(0.05))))
    try:
        task = create(luma)
        assert luma.wait_for_state(task.id, "completed", timeout=10) is task
        assert task.created_at < task.started_at < task.finished_at  # type: ignore[operator]
    finally:
        luma.close()


def test_synchronous_call_is_held_until_the_task_finishes() -> None:
    luma = manual_service()
    call = InThread(luma.videos, {"prompt": PROMPT}, token=TOKEN, base_url=BASE)
    task = _wait_for_a_task(luma)
    luma.advance(30)
    assert not call.done
    luma.advance(40)
    result = call.join()
    assert result["task_id"] == task.id and result["state"] == "completed"
    assert check("acedata/videos-result", result).ok


def test_synchronous_call_times_out_with_504_on_the_fakes_clock_and_the_task_goes_on() -> None:
    luma = manual_service()
    call = InThread(luma.videos, {"prompt": PROMPT, "timeout": 10}, token=TOKEN, base_url=BASE)
    task = _wait_for_a_task(luma)
    luma.advance(10)
    with pytest.raises(ApiError) as raised:
        call.join()
    assert raised.value.code == "timeout" and raised.value.status == 504
    luma.advance(60)
    assert task.state is TaskState.COMPLETED


def test_a_task_failed_while_held_answers_with_its_error() -> None:
    luma = manual_service()
    call = InThread(luma.videos, {"prompt": PROMPT}, token=TOKEN, base_url=BASE)
    task = _wait_for_a_task(luma)
    luma.fail(task.id, "forbidden")
    with pytest.raises(ApiError) as raised:
        call.join()
    assert (raised.value.code, raised.value.status) == ("forbidden", 403)
    record = luma.record(task)
    assert record["response"]["success"] is False and check("acedata/task-record", record).ok


def test_complete_now_ends_a_task_early_and_its_planned_end_is_a_no_op() -> None:
    luma = manual_service()
    task = create(luma, **{"async": True})
    luma.complete(task.id)
    finished = task.finished_at
    luma.advance(120)
    assert task.state is TaskState.COMPLETED and task.finished_at == finished == T0


def test_async_and_callback_answers_are_immediate() -> None:
    luma = manual_service()
    assert set(luma.videos({"prompt": PROMPT, "async": True}, token=TOKEN, base_url=BASE)) == {
        "task_id"
    }
    answer = luma.videos(
        {"prompt": PROMPT, "callback_url": "http://127.0.0.1:9/cb"}, token=TOKEN, base_url=BASE
    )
    assert check("acedata/videos-accepted", answer).ok


def test_extend_by_video_id_keeps_the_size_of_the_source_video() -> None:
    luma = instant_service()
    try:
        wide = luma.videos({"prompt": PROMPT, "aspect_ratio": "21:9"}, token=TOKEN, base_url=BASE)
        extended = luma.videos(
            {"action": "extend", "prompt": "more", "video_id": wide["video_id"]},
            token=TOKEN,
            base_url=BASE,
        )
        assert (extended["video_width"], extended["video_height"]) == (1552, 656)
        by_url = luma.videos(
            {"action": "extend", "prompt": "more", "video_url": wide["video_url"]},
            token=TOKEN,
            base_url=BASE,
        )
        assert by_url["video_width"] == 1552
        foreign = luma.videos(
            {"action": "extend", "prompt": "x", "video_url": "https://cdn.example/v.mp4"},
            token=TOKEN,
            base_url=BASE,
        )
        assert (foreign["video_width"], foreign["video_height"]) == (1360, 752)
    finally:
        luma.close()


def test_extend_of_a_video_never_made_here_is_not_found_naming_video_id() -> None:
    luma = manual_service()
    with pytest.raises(ApiError) as raised:
        create(luma, action="extend", video_id="0105c090-03a5-425a-8026-523341cd575b")
    assert (raised.value.status, raised.value.code) == (404, "not_found")
    assert "video_id" in raised.value.message


def test_invalid_bodies_are_bad_requests_that_name_the_field() -> None:
    luma = manual_service()
    for body, field in [
        ({}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x", "aspect_ratio": "5:4"}, "aspect_ratio"),
        ({"prompt": "x", "loop": "yes"}, "loop"),
        ({"prompt": "x", "action": "extend"}, "video_id or video_url"),
        ({"prompt": "x", "timeout": -1}, "timeout"),
    ]:
        with pytest.raises(ApiError) as raised:
            luma.create_video(body, token=TOKEN, base_url=BASE)
        assert raised.value.code == "bad_request" and field in raised.value.message, body
    assert len(luma.store) == 0


def test_tasks_are_private_to_their_token_and_unknown_ids_are_404() -> None:
    luma = manual_service()
    task = create(luma)
    assert luma.tasks({"action": "retrieve", "id": task.id}, token=TOKEN)["id"] == task.id
    with pytest.raises(ApiError) as raised:
        luma.tasks({"action": "retrieve", "id": task.id}, token="someone-else")
    assert raised.value.status == 404 and raised.value.code == "not_found"
    batch = luma.tasks({"action": "retrieve_batch", "ids": [task.id, "nope"]}, token=TOKEN)
    assert batch["count"] == 1 and batch["items"][0]["id"] == task.id
    assert check("acedata/tasks-batch", batch).ok


def test_tokens_any_by_default_and_restricted_when_named() -> None:
    assert manual_service().authenticate("Bearer anything") == "anything"
    assert manual_service().authenticate("bearer  spaced ") == "spaced"
    for header in [None, "", "Bearer", "Basic abc", "Bearer  "]:
        with pytest.raises(ApiError):
            manual_service().authenticate(header)
    strict = manual_service(tokens=("good",))
    assert strict.authenticate("Bearer good") == "good"
    with pytest.raises(ApiError) as raised:
        strict.authenticate("Bearer bad")
    assert (raised.value.status, raised.value.code) == (401, "invalid_token")


def test_store_evicts_oldest_finished_tasks_but_never_running_ones() -> None:
    store = InMemoryTaskStore(max_tasks=3)
    luma = LumaService(
        Settings(delays=DelayModel(Fixed(0), Fixed(10), Fixed(10)), clock="manual"),
        clock=ManualClock(T0),
        store=store,
    )
    running = create(luma)
    luma.advance(1)
    finished = []
    for _ in range(4):
        finished.append(create(luma))
        luma.complete(finished[-1].id)
    assert len(store) == 3
    assert store.get(running.id) is running  # older, but still running
    assert store.get(finished[0].id) is None and store.get(finished[1].id) is None
    assert store.by_output(finished[0].output_id) is None
    assert store.evicted == 2


def test_ids_are_the_version_4_uuids_of_the_seeded_bits() -> None:
    luma, bits = manual_service(seed=11), random.Random(11)
    for _ in range(200):
        assert luma.new_id() == str(uuid.UUID(int=bits.getrandbits(128), version=4))


def test_same_seed_same_ids_and_delays() -> None:
    def run() -> list[tuple[str, float]]:
        luma = manual_service(delays=DelayModel(Fixed(0), Fixed(1), Fixed(1)).__class__())
        tasks = [create(luma) for _ in range(3)]
        return [(t.id, t.created_at) for t in tasks]

    assert run() == run()


def test_close_releases_held_requests_and_reports_what_was_dropped() -> None:
    luma = manual_service()
    call = InThread(luma.videos, {"prompt": PROMPT}, token=TOKEN, base_url=BASE)
    _wait_for_a_task(luma)
    report = luma.close()
    with pytest.raises(ApiError) as raised:
        call.join()
    assert raised.value.code == "api_error"
    assert report == {"running_tasks": 1, "undelivered_callbacks": 0}


def _wait_for_a_task(luma: LumaService):
    """The first task, once the call on the other thread has created it."""
    return luma.wait_until(lambda: next(iter(luma.store), None))


def test_the_engine_does_not_import_flask() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, mock_server.acedata.service, mock_server.harness.receiver;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_timeout_too_large_for_a_float_means_no_deadline() -> None:
    luma = LumaService(Settings(delays=DelayModel(Fixed(0), Fixed(0.05), Fixed(0.05))))
    try:
        for timeout in (10**400, 1e300):  # no deadline; a deadline beyond any real wait
            answer = luma.videos({"prompt": PROMPT, "timeout": timeout}, token=TOKEN, base_url=BASE)
            assert answer["state"] == "completed"
        assert luma.scheduler._thread is not None and luma.scheduler._thread.is_alive()
    finally:
        luma.close()


def test_moves_of_a_manual_clock_from_two_threads_add_up() -> None:
    clock = ManualClock(T0)
    movers = [InThread(lambda: [clock.advance(1) for _ in range(200)]) for _ in range(2)]
    for mover in movers:
        mover.join()
    assert clock.now() == T0 + 400
