"""Stopping the fake with work in flight: synchronous requests held open, asynchronous
tasks running, callbacks waiting for their retry. The process must exit promptly, every
held request must get an answer or a closed connection (never a hang), and the last line
it prints must say what it dropped, with counts that match what was in flight.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.hardening_support import (
    Control,
    DownReceiver,
    MisbehavingReceiver,
    Reply,
    always,
    assert_error_envelope,
    write_config,
)
from tests.support import AUTH, PROMPT, InThread, LiveServer, live_server

PROMPT_EXIT = 5.0  # seconds: a generous bound on "promptly"
HELD_SYNC = 4
RUNNING_ASYNC = 3
WAITING_FOR_RETRY = 2
SUMMARY = re.compile(
    r"^luma-mock stopped; dropped (\d+) running task\(s\) and (\d+) undelivered callback\(s\)$"
)


@contextmanager
def busy_server(tmp_path: Path, **config: object) -> Iterator[LiveServer]:
    """A fake whose tasks run for a minute and whose callbacks retry after 30 s, so
    whatever the test starts is still in flight when it signals."""
    path = write_config(
        tmp_path / "luma-mock.toml", delay=60.0, callback_backoff=30.0, callback_retries=3, **config
    )
    with live_server("--config", str(path)) as server:
        yield server


def hold_sync_request(server: LiveServer, n: int) -> InThread:
    body = {"prompt": f"{PROMPT} {n}"}  # synchronous: held until the task ends
    return InThread(requests.post, server.url + "/luma/videos", json=body, headers=AUTH, timeout=60)


def start_async_task(server: LiveServer) -> str:
    body = {"prompt": PROMPT, "async": True}
    answer = requests.post(server.url + "/luma/videos", json=body, headers=AUTH, timeout=10)
    assert answer.status_code == 200
    return str(answer.json()["task_id"])


def end_with_callback(server: LiveServer, callback_url: str) -> str:
    """A finished task whose callback has had its first attempt."""
    body = {"prompt": PROMPT, "callback_url": callback_url}
    answer = requests.post(server.url + "/luma/videos", json=body, headers=AUTH, timeout=10)
    task_id = str(answer.json()["task_id"])
    Control(server).complete(task_id)
    return task_id


def wait_for_task_count(server: LiveServer, count: int, timeout: float = 10.0) -> None:
    """Until the fake holds ``count`` tasks: the journal shows each call's task as soon as
    it exists, held synchronous calls included, so wait for them one entry at a time."""
    seen, since = 0, 0
    while seen < count:
        entry = requests.post(
            server.url + "/__admin/journal/wait",
            json={"path": "/luma/videos", "with_task": True, "since": since, "timeout": timeout},
            timeout=timeout + 5,
        )
        if entry.status_code != 200:
            raise TimeoutError(f"the fake did not reach {count} tasks within {timeout} s")
        seen, since = seen + 1, entry.json()["seq"]


def last_line(output: str) -> str:
    return output.rstrip("\n").rsplit("\n", 1)[-1]


def assert_answered_or_closed(held: InThread) -> None:
    """The held request ended (within the bound) with an answer in the envelope or a
    closed connection, not a hang."""
    try:
        answer = held.join(timeout=PROMPT_EXIT)
    except requests.ConnectionError:
        return  # the connection was closed: the client knows at once
    assert answer.status_code == 500, answer.text
    envelope = assert_error_envelope(500, answer.json())
    assert "shutting down" in envelope["error"]["message"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_with_work_in_flight_is_prompt_and_says_what_it_dropped(
    tmp_path: Path, signum: signal.Signals
) -> None:
    with busy_server(tmp_path) as server, DownReceiver() as down:
        held = [hold_sync_request(server, n) for n in range(HELD_SYNC)]
        running = [start_async_task(server) for _ in range(RUNNING_ASYNC)]
        retrying = [end_with_callback(server, down.url) for _ in range(WAITING_FOR_RETRY)]
        control = Control(server)
        for task_id in retrying:
            first = control.wait_for_entry(kind="callback", task_id=task_id)
            assert first["attempt"] == 1 and "refused" in first["error"].lower()
            assert control.delivery_log(task_id)["state"] == "scheduled"
        for task_id in running:
            assert control.task(task_id)["state"] in ("pending", "processing")
        wait_for_task_count(server, HELD_SYNC + RUNNING_ASYNC + WAITING_FOR_RETRY)

        output = server.stop(signum, timeout=PROMPT_EXIT)  # TimeoutExpired if it hangs on
        assert server.process.returncode == 0
        for request in held:
            assert_answered_or_closed(request)

    summary = SUMMARY.match(last_line(output))
    assert summary, f"last line: {last_line(output)!r}"
    assert int(summary[1]) == HELD_SYNC + RUNNING_ASYNC
    assert int(summary[2]) == WAITING_FOR_RETRY
    assert "Traceback" not in output


def test_stopping_when_idle_drops_nothing(tmp_path: Path) -> None:
    with busy_server(tmp_path) as server:
        assert requests.get(server.url + "/health", timeout=10).status_code == 200
        output = server.stop(signal.SIGTERM, timeout=PROMPT_EXIT)
    assert server.process.returncode == 0
    assert last_line(output) == (
        "luma-mock stopped; dropped 0 running task(s) and 0 undelivered callback(s)"
    )


def test_a_callback_attempt_in_flight_does_not_hold_up_the_exit(tmp_path: Path) -> None:
    with (
        busy_server(tmp_path, callback_timeout=10.0) as server,
        MisbehavingReceiver(always(Reply(hold=60.0))) as receiver,
    ):
        end_with_callback(server, receiver.url)
        receiver.wait_count(1)  # the attempt is on the wire, waiting for an answer
        # Not held up by the attempt's 10 s timeout (TimeoutExpired if it is).
        output = server.stop(signal.SIGTERM, timeout=PROMPT_EXIT)
        assert server.process.returncode == 0
    summary = SUMMARY.match(last_line(output))
    assert summary and int(summary[2]) == 1, f"last line: {last_line(output)!r}"
