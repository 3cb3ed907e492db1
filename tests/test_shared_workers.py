"""``luma-mock serve --workers N`` on a shared store: N worker processes on one port,
one fake; a worker that dies is replaced and its work taken over; SIGTERM stops all."""

from __future__ import annotations

import os
import re
import select
import signal
from typing import Any

import redis
import requests

from mock_server.engine.shared.notes import PREFIX
from tests.support import AUTH, PROMPT, LiveServer, live_server

T0 = 1_700_000_000.0


def workers_of(server: LiveServer) -> set[int]:
    return {int(pid) for pid in re.findall(r"\[worker (\d+)\]", server.fake.output)}


def printed(server: LiveServer, text: str) -> None:
    """Wait until the server has printed ``text`` (its output is read as it comes)."""
    with server.fake._printed:
        assert server.fake._printed.wait_for(lambda: text in server.fake.output, 30)


def fresh_post(server: LiveServer, path: str, body: Any) -> requests.Response:
    """On a new connection each time: the kernel picks a worker per connection."""
    with requests.Session() as session:
        return session.post(server.url + path, json=body, headers=AUTH, timeout=30)


def test_two_workers_on_one_port_are_one_fake_and_stop_together(redis_url: str) -> None:
    redis.Redis.from_url(redis_url).set(f"{PREFIX}:clock", repr(T0))
    with live_server(
        "--store", redis_url, "--workers", "2", "--clock", "manual", "--delay", "10"
    ) as server:
        printed(server, "workers: 2 on one port")  # the banner's last line
        made = []
        for _ in range(40):  # until both workers have answered (each logs its requests)
            answer = fresh_post(server, "/luma/videos", {"prompt": PROMPT, "async": True})
            assert answer.status_code == 200, answer.text
            made.append(answer.json()["task_id"])
            if len(workers_of(server)) == 2:
                break
        pids = workers_of(server)
        assert len(pids) == 2
        advanced = fresh_post(server, "/__admin/clock/advance", {"seconds": 10})
        assert advanced.status_code == 200, advanced.text
        for task_id in made:  # whichever worker answers, every task is there and done
            record = fresh_post(server, "/luma/tasks", {"id": task_id}).json()
            assert record["response"]["state"] == "completed"
        out = server.stop(signal.SIGTERM)
    assert server.process.returncode == 0 and "Traceback" not in out
    for pid in pids:  # every worker has exited
        assert not os.path.exists(f"/proc/{pid}") or _zombie(pid)


def test_a_killed_worker_is_replaced_and_its_plans_kept(redis_url: str) -> None:
    redis.Redis.from_url(redis_url).set(f"{PREFIX}:clock", repr(T0))
    with live_server(
        "--store", redis_url, "--workers", "2", "--clock", "manual", "--delay", "10"
    ) as server:
        made = [
            fresh_post(server, "/luma/videos", {"prompt": PROMPT, "async": True}).json()["task_id"]
            for _ in range(6)
        ]
        victim = min(workers_of(server) or {0})
        assert victim
        os.kill(victim, signal.SIGKILL)
        printed(server, "starting another")  # the supervisor says it replaces it
        fresh_post(server, "/__admin/clock/advance", {"seconds": 10})
        states = {
            fresh_post(server, "/luma/tasks", {"id": t}).json()["response"]["state"] for t in made
        }
        assert states == {"completed"}


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] == "Z"
    except OSError:
        return True


def test_workers_stop_when_their_supervisor_is_killed(redis_url: str) -> None:
    # A supervisor SIGKILLed (or killed by the OOM killer) cannot stop its workers: they
    # must not go on serving its port as orphans. Each stops by itself, as on SIGTERM.
    with live_server("--store", redis_url, "--workers", "2") as server:
        pids: set[int] = set()
        for _ in range(40):  # until both workers have answered (each logs its requests)
            answer = fresh_post(server, "/luma/videos", {"prompt": PROMPT, "async": True})
            assert answer.status_code == 200, answer.text
            pids = workers_of(server)
            if len(pids) == 2:
                break
        assert len(pids) == 2
        exits = {pid: os.pidfd_open(pid) for pid in pids}  # readable once it has exited
        server.process.kill()
        try:
            for pid, fd in exits.items():
                ready, _, _ = select.select([fd], [], [], 30)
                assert ready, f"worker {pid} outlived its supervisor"
        finally:
            for fd in exits.values():
                os.close(fd)
