"""Real ``luma-mock serve --store redis://...`` processes on one Redis server: one fake
across processes, over real sockets; a SIGKILL or a restart loses nothing; a store that
cannot be reached, or ``--workers`` without a shared store, is refused at start."""

from __future__ import annotations

import signal
import subprocess
import threading
from typing import Any

import redis

from mock_server.engine.shared.notes import PREFIX
from mock_server.harness.process import ServedFake, child_environment, serve_command
from tests.redis_server import start_redis
from tests.support import PROMPT, LiveServer, live_server

T0 = 1_700_000_000.0


def start(redis_url: str, *args: str) -> Any:
    return live_server("--store", redis_url, "--clock", "manual", "--delay", "10", *args)


def generate(server: LiveServer, **body: Any) -> str:
    answer = server.post("/luma/videos", {"prompt": PROMPT, "async": True, **body})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["task_id"])


def retrieve(server: LiveServer, task_id: str) -> dict[str, Any]:
    answer = server.post("/luma/tasks", {"id": task_id})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def advance(server: LiveServer, seconds: float) -> float:
    moved = server.post("/__admin/clock/advance", {"seconds": seconds})
    assert moved.status_code == 200, moved.text
    return float(moved.json()["now"])


def test_two_servers_on_one_store_share_tasks_and_the_clock(redis_url: str) -> None:
    redis.Redis.from_url(redis_url).set(f"{PREFIX}:clock", repr(T0))
    with start(redis_url) as a, start(redis_url) as b:
        task_id = generate(a)
        assert retrieve(b, task_id)["response"]["state"] == "processing"
        held: list[Any] = []
        call = threading.Thread(
            target=lambda: held.append(a.post("/luma/videos", {"prompt": "held on a"}))
        )
        call.start()
        # Once the journal (one for both) shows the held call with its task, b may move
        # the clock: asked through b, of a call held by a.
        waited = b.post(
            "/__admin/journal/wait",
            {"path": "/luma/videos", "answered": False, "with_task": True, "timeout": 20},
        )
        assert waited.status_code == 200, waited.text
        assert advance(b, 10) == T0 + 10  # through b: a's tasks end, a's held call answers
        call.join(30)
        assert held and held[0].status_code == 200 and held[0].json()["state"] == "completed"
        record = retrieve(a, task_id)
        assert record["response"]["state"] == "completed" and record["finished_at"] == T0 + 10
        assert b.session.get(b.url + "/health").json()["tasks"] == 2


def test_a_sigkilled_server_loses_nothing_and_a_restart_keeps_the_plans(redis_url: str) -> None:
    redis.Redis.from_url(redis_url).set(f"{PREFIX}:clock", repr(T0))
    with start(redis_url) as a:
        made = [generate(a) for _ in range(3)]
        advance(a, 4)
        a.fake.stop(signal.SIGKILL)
    with start(redis_url) as again:
        assert [retrieve(again, t)["response"]["state"] for t in made] == ["processing"] * 3
        advance(again, 5.5)  # planned for T0 + 10: not yet
        assert retrieve(again, made[0])["response"]["state"] == "processing"
        advance(again, 0.5)
        assert {retrieve(again, t)["finished_at"] for t in made} == {T0 + 10}


def refused_at_start(*args: str) -> str:
    """What ``luma-mock serve ARGS`` says as it exits 2, refusing to start."""
    out = subprocess.run(
        serve_command(*args), capture_output=True, text=True, env=child_environment(), timeout=60
    )
    assert out.returncode == 2
    return out.stderr


def test_a_store_that_cannot_be_reached_is_refused_at_start() -> None:
    stderr = refused_at_start("--store", "redis://127.0.0.1:1/0")
    assert "the store redis://127.0.0.1:1/0 cannot be reached" in stderr
    assert "Traceback" not in stderr


def test_workers_without_a_shared_store_are_refused_saying_what_to_use() -> None:
    stderr = refused_at_start("--workers", "2")
    assert "needs a shared store" in stderr and "--store redis://" in stderr


def test_the_store_comes_from_the_environment_too(redis_url: str) -> None:
    fake = ServedFake.serve(env={"LUMA_MOCK_STORE": redis_url, "LUMA_MOCK_CLOCK": "manual"})
    try:
        server = LiveServer(fake)
        task_id = generate(server)
        assert redis.Redis.from_url(redis_url).exists(f"{PREFIX}:acedata:t:{task_id}")
    finally:
        fake.stop(signal.SIGKILL, timeout=10)


def test_redis_down_gives_envelopes_not_crashes_and_the_fake_recovers() -> None:
    own = start_redis()  # this test's own server: it is killed and started again
    try:
        with start(own.url()) as server:
            assert generate(server)
            own.kill()
            refused = server.post("/luma/videos", {"prompt": PROMPT, "async": True})
            assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
            error = refused.json()["error"]  # AceData's envelope, no trace
            assert error["code"] == "api_error" and "cannot be reached" in error["message"]
            dm = server.post("/dream-machine/v1/generations/video", {"prompt": "a tiger"})
            assert dm.status_code == 503 and "cannot be reached" in dm.json()["detail"]
            assert server.post("/luma/tasks", {"id": "x"}).status_code == 503
            health = server.session.get(server.url + "/health", timeout=10)
            assert health.status_code == 503
            own.start_again()
            task_id = generate(server)  # the same process carries on
            advance(server, 10)
            assert retrieve(server, task_id)["response"]["state"] == "completed"
            assert server.process.poll() is None
        assert "the shared store cannot be reached" in server.fake.output
        assert "Traceback" not in server.fake.output
    finally:
        own.stop()
