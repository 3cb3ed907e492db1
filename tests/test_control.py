"""The control side in Python: scenarios, credits, rate limits, waiting, journal, reset."""

from __future__ import annotations

import pytest

from mock_server.acedata import Scenarios
from mock_server.acedata.service import LumaService
from mock_server.engine.errors import ApiError
from mock_server.engine.faults import ConnectionFault
from mock_server.engine.journal import JournalEntry
from mock_server.engine.tasks import TaskState
from mock_server.harness.receiver import CallbackReceiver
from tests.support import PROMPT, TOKEN, InThread, manual_service

BASE = "http://fake.test"
T0 = 1_700_000_000.0


def generate(luma: LumaService, token: str = TOKEN, scenario: str | None = None, **body: object):
    answer = luma.videos(
        {"prompt": PROMPT, "async": True, **body}, token=token, base_url=BASE, scenario=scenario
    )
    return luma.task(answer["task_id"])


def code_of(call: object, *args: object, **kwargs: object) -> tuple[int, str]:
    with pytest.raises(ApiError) as raised:
        call(*args, **kwargs)  # type: ignore[operator]
    return raised.value.status, raised.value.code


def test_a_prompt_substring_rule_refuses_like_the_moderator() -> None:
    luma = manual_service()
    luma.scenarios.add({"match": {"prompt_contains": "volcano"}, "then": {"reject": "forbidden"}})
    assert code_of(generate, luma) == (403, "forbidden")
    assert len(luma.store) == 0
    assert generate(luma, prompt="a quiet lake").state is TaskState.PENDING


def test_fail_n_times_then_succeed() -> None:
    luma = manual_service()
    luma.scenarios.add({"then": {"reject": "api_error"}, "times": 2})
    assert code_of(generate, luma) == (500, "api_error")
    assert code_of(generate, luma) == (500, "api_error")
    assert generate(luma).state is TaskState.PENDING
    assert luma.scenarios.list()[0].spent


def test_a_sequence_of_outcomes_one_per_request() -> None:
    luma = manual_service()
    luma.scenarios.add(
        {
            "match": {"scenario": "bumpy"},
            "then": [
                {"reject": "too_many_requests", "retry_after": 2.5},
                {"fail": "used_up", "after": 5},
                {"delay": 1},
            ],
        }
    )
    with pytest.raises(ApiError) as raised:
        generate(luma, scenario="bumpy")
    assert raised.value.status == 429 and raised.value.headers == {"Retry-After": "3"}
    failing = generate(luma, scenario="bumpy")
    quick = generate(luma, scenario="bumpy")
    untouched = generate(luma)  # no header: no rule
    luma.advance(7)
    assert failing.state is TaskState.FAILED and failing.error.code == "used_up"  # type: ignore[union-attr]
    assert failing.finished_at == T0 + 2 + 5
    assert quick.state is TaskState.COMPLETED and quick.finished_at == T0 + 3
    assert untouched.state is TaskState.PROCESSING
    assert generate(luma, scenario="bumpy").state is TaskState.PENDING  # the sequence is spent


@pytest.mark.parametrize(
    ("match", "hit", "miss"),
    [
        ({"action": "extend"}, {"action": "extend", "video_url": "https://x.test/v.mp4"}, {}),
        ({"fields": {"aspect_ratio": "9:16"}}, {"aspect_ratio": "9:16"}, {"aspect_ratio": "1:1"}),
        ({"token": "vip"}, {"_token": "vip"}, {}),
        ({"endpoint": "videos", "prompt_contains": "cat"}, {"prompt": "a cat"}, {"prompt": "dog"}),
    ],
)
def test_rules_match_on_action_fields_token_and_prompt(match: dict, hit: dict, miss: dict) -> None:
    luma = manual_service()
    luma.scenarios.add({"match": match, "then": {"reject": "api_not_implemented"}})

    def attempt(body: dict) -> object:
        body = dict(body)
        token = body.pop("_token", TOKEN)
        return generate(luma, token=token, **body)

    assert code_of(attempt, hit) == (400, "api_not_implemented")
    assert attempt(miss) is not None


def test_a_rule_on_the_tasks_endpoint() -> None:
    luma = manual_service()
    task = generate(luma)
    luma.scenarios.add(
        {"match": {"endpoint": "tasks"}, "then": {"reject": "too_many_requests"}, "times": 1}
    )
    retrieve = {"action": "retrieve", "id": task.id}
    assert code_of(luma.tasks, retrieve, token=TOKEN) == (429, "too_many_requests")
    assert luma.tasks(retrieve, token=TOKEN)["id"] == task.id


def test_a_fault_rule_still_does_the_work_then_breaks_the_answer() -> None:
    luma = manual_service()
    luma.scenarios.add({"then": {"fault": "reset"}})
    with pytest.raises(ConnectionFault) as raised:
        generate(luma)
    assert raised.value.fault.kind == "reset"
    task_id = raised.value.answer["task_id"]
    assert luma.task(task_id).state is TaskState.PENDING  # made, though nobody heard of it


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ({"match": {}}, "needs then"),
        ({"then": {"reject": "nope"}}, "not a documented error code"),
        ({"then": {"explode": True}}, "exactly one of"),
        ({"then": {"fault": "fire"}}, "unknown fault"),
        ({"then": {"delay": -1}}, "seconds"),
        ({"then": [], "times": 1}, "at least one"),
        ({"then": {"succeed": True}, "times": 0}, "at least 1"),
        ({"match": {"colour": "red"}, "then": {"succeed": True}}, "unknown match key"),
        ({"match": {"endpoint": "media"}, "then": {"succeed": True}}, "videos or tasks"),
        ({"then": {"succeed": True}, "when": "now"}, "unknown rule key"),
    ],
)
def test_bad_rules_say_what_is_wrong(rule: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Scenarios().add(rule)


def test_rules_round_trip_as_plain_data() -> None:
    rules = Scenarios()
    spec = {
        "name": "flaky",
        "match": {"scenario": "x", "fields": {"loop": True}},
        "then": [{"reject": "api_error", "message": "down"}, {"fault": "hang", "seconds": 2.0}],
        "times": 2,
    }
    shown = rules.add(spec).as_dict()
    assert {k: shown[k] for k in spec} == spec
    assert Scenarios().add({k: shown[k] for k in spec}).as_dict()["then"] == spec["then"]


def test_credits_are_spent_per_video_and_run_out_with_used_up() -> None:
    luma = manual_service(credits=2.0)
    generate(luma)
    generate(luma)
    assert luma.accounts.balance(TOKEN) == 0
    assert code_of(generate, luma) == (403, "used_up")
    assert len(luma.store) == 2
    luma.accounts.set_balance(TOKEN, 1)
    generate(luma)
    other = "another-token"
    luma.accounts.set_balance(other, 0)
    assert code_of(generate, luma, token=other) == (403, "used_up")


def test_rate_limit_per_token_on_the_fakes_clock() -> None:
    luma = manual_service(rate_limit="2/60")
    generate(luma)
    luma.advance(10)
    generate(luma)
    with pytest.raises(ApiError) as raised:
        generate(luma)
    assert raised.value.status == 429 and raised.value.headers["Retry-After"] == "50"
    generate(luma, token="someone-else")  # each token has its own window
    luma.advance(50)
    generate(luma)


def test_waiting_for_a_state_while_another_thread_moves_time() -> None:
    luma = manual_service()
    task = generate(luma)
    waiter = InThread(luma.wait_for_state, task.id, "completed", 10)
    luma.advance(30)
    assert not waiter.done
    luma.advance(40)
    assert waiter.join() is task
    with pytest.raises(TimeoutError):
        luma.wait_for_state(generate(luma).id, "processing", timeout=0.05)
    with pytest.raises(ValueError, match="ended completed, not failed"):
        luma.wait_for_state(task.id, "failed")


def test_waiting_for_a_callback_and_its_journal_entries() -> None:
    luma = manual_service(callback_backoff=1.0)
    with CallbackReceiver() as receiver:
        receiver.answer(502)
        task = generate(luma, callback_url=receiver.url)
        waiter = InThread(luma.wait_for_callback, task.id, 10)
        luma.advance(62)
        luma.advance(1)
        delivery = waiter.join()
    assert delivery.state == "delivered" and len(delivery.attempts) == 2
    entries = luma.journal.entries(kind="callback", task_id=task.id)
    assert [(e.attempt, e.status) for e in entries] == [(1, 502), (2, 200)]
    assert luma.journal.entries(kind="callback", status=502)[0].error == "answered 502"


def test_journal_filters_and_waits() -> None:
    luma = manual_service()
    first = luma.journal.record(JournalEntry("request", T0, path="/luma/videos", status=200))
    luma.journal.record(JournalEntry("request", T0, path="/luma/tasks", status=404))
    assert [e.path for e in luma.journal.entries(status=404)] == ["/luma/tasks"]
    assert luma.journal.wait(path="/luma/videos") is first  # already there: at once
    later = InThread(luma.journal.wait, 10, path="/luma/videos", since=first.seq)
    luma.journal.record(JournalEntry("request", T0, path="/luma/videos", status=400))
    assert later.join().status == 400
    with pytest.raises(ValueError, match="unknown journal filter"):
        luma.journal.entries(colour="red")
    with pytest.raises(TimeoutError):
        luma.journal.wait(0.05, status=418)


def test_reset_returns_to_the_fake_as_it_started() -> None:
    configured = {"name": "from-config", "match": {"scenario": "cfg"}, "then": {"succeed": True}}
    luma = manual_service(credits=5.0, scenarios=(configured,))
    start_ids = [generate(luma).id for _ in range(2)]
    held = InThread(luma.videos, {"prompt": PROMPT}, token="held-token", base_url=BASE)
    luma.wait_until(lambda: any(t.token == "held-token" for t in luma.store))
    luma.scenarios.add({"then": {"reject": "api_error"}})
    luma.accounts.set_balance(TOKEN, 0)
    luma.journal.record(JournalEntry("request", T0))
    luma.advance(30)

    luma.reset()
    with pytest.raises(ApiError, match="reset"):
        held.join()
    assert len(luma.store) == 0 and luma.journal.entries() == []
    assert [r.name for r in luma.scenarios.list()] == ["from-config"]
    assert luma.clock.now() == T0 and luma.scheduler.pending() == 0
    assert luma.accounts.balance(TOKEN) == 5.0
    assert [generate(luma).id for _ in range(2)] == start_ids  # the same seed again


def test_events_of_a_task_from_before_a_reset_do_nothing() -> None:
    luma = manual_service()
    with CallbackReceiver() as receiver:
        old = generate(luma, callback_url=receiver.url)
        luma.reset()
        # Its end may already have been taken off the queue when the reset came.
        assert luma._end(old, None) is False
        luma.advance(3600)
        assert receiver.received == [] and luma.journal.entries() == []
        assert not old.finished and old.result is None  # its end never came


def test_a_callback_attempt_out_during_a_reset_leaves_no_trace() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from mock_server.engine.config import Settings
    from mock_server.engine.delays import PRESETS

    arrived, release = threading.Event(), threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            arrived.set()
            release.wait(10)
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    luma = LumaService(Settings(delays=PRESETS["instant"]))
    attempted = threading.Event()
    attempt = luma.callbacks._attempt

    def attempt_and_say_so(delivery: object) -> None:  # so the test can wait for its end
        attempt(delivery)  # type: ignore[arg-type]
        attempted.set()

    luma.callbacks._attempt = attempt_and_say_so  # type: ignore[method-assign]
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/cb"
        task = generate(luma, callback_url=url)
        assert arrived.wait(10)  # the attempt is out
        delivery = luma.delivery(task.id)
        luma.reset()
        release.set()
        assert attempted.wait(10)  # the attempt came back, after the reset
        assert delivery is not None and delivery.state == "dropped" and delivery.attempts == []
        assert luma.journal.entries() == []
    finally:
        release.set()
        luma.close()
        receiver.shutdown()
        receiver.server_close()
