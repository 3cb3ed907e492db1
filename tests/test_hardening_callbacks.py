"""Callbacks against receivers that misbehave: slow (past the callback timeout), refusing
connections, resetting them, down for longer than the retry budget and then up — and
200 tasks falling due at once with a receiver that fails the first attempt of each.

Whatever happens, every attempt is in the task's delivery log and in the journal, every
delivery ends delivered, failed or refused (nothing is lost silently), and no task is
ever delivered successfully twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from contract_tests.contract import check
from tests.hardening_support import (
    Control,
    DownReceiver,
    MisbehavingReceiver,
    Reply,
    always,
    first_attempts,
    write_config,
)
from tests.support import AUTH, PROMPT, LiveServer, live_server

CALLBACK_TIMEOUT = 0.5  # seconds per attempt
RETRIES = 2  # so three attempts in all
SETTLED = {"delivered", "failed", "refused"}
HELD = 5.0  # a slow receiver holds its answer this long (ten times the timeout)


def start_config(path: Path, **values: Any) -> Path:
    settings = {
        "callback_timeout": CALLBACK_TIMEOUT,
        "callback_backoff": 0.1,
        "callback_retries": RETRIES,
        "delay": "instant",
        **values,
    }
    return write_config(path, **settings)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    config = start_config(tmp_path_factory.mktemp("callbacks") / "luma-mock.toml")
    with live_server("--config", str(config)) as running:
        yield running


@pytest.fixture(scope="module")
def manual_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The same settings on a manual clock: retries happen only when the test moves it."""
    config = start_config(tmp_path_factory.mktemp("callbacks-manual") / "luma-mock.toml")
    with live_server("--config", str(config), "--clock", "manual") as running:
        yield running


def submit_with_callback(server: LiveServer, callback_url: str, prompt: str = PROMPT) -> str:
    body = {"prompt": prompt, "callback_url": callback_url}
    answer = requests.post(server.url + "/luma/videos", json=body, headers=AUTH, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["task_id"])


def settled_delivery(server: LiveServer, task_id: str, timeout: float = 15.0) -> dict[str, Any]:
    """The task's delivery once settled, checked against the journal: every attempt in
    the delivery log is a callback entry in the journal, in order, and nothing else."""
    control = Control(server)
    delivery = control.wait_for_delivery(task_id, timeout)
    assert delivery["state"] in SETTLED, delivery
    attempts = delivery["attempts"]
    assert [a["number"] for a in attempts] == list(range(1, len(attempts) + 1))
    assert all((a["status"] is not None) or a["error"] for a in attempts), attempts
    journaled = control.journal(kind="callback", task_id=task_id)
    assert [(e["attempt"], e.get("status"), e.get("error")) for e in journaled] == [
        (a["number"], a["status"], a["error"]) for a in attempts
    ]
    assert all(check("acedata/callback", e["body"]).ok for e in journaled)
    assert control.delivery_log(task_id) == delivery  # settled means it stays so
    return delivery


def successes(delivery: dict[str, Any]) -> int:
    return sum(1 for attempt in delivery["attempts"] if attempt["ok"])


# -- one receiver at a time -----------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "error"),
    [(Reply(hold=HELD), "timed out"), (Reply(reset=True), "reset")],
    ids=["slower-than-the-timeout", "resets-connections"],
)
def test_a_receiver_that_always_misbehaves_fails_every_attempt_in_the_log(
    server: LiveServer, reply: Reply, error: str
) -> None:
    with MisbehavingReceiver(always(reply)) as receiver:
        task_id = submit_with_callback(server, receiver.url)
        delivery = settled_delivery(server, task_id)
        assert delivery["state"] == "failed" and len(delivery["attempts"]) == RETRIES + 1
        for attempt in delivery["attempts"]:
            assert attempt["status"] is None and error in attempt["error"].lower()
        # Each attempt reached the receiver (which answered too late, or reset it).
        assert len(receiver.for_task(task_id)) == RETRIES + 1


def test_a_receiver_slow_once_gets_the_result_on_the_retry(server: LiveServer) -> None:
    with MisbehavingReceiver(first_attempts(1, Reply(hold=HELD))) as receiver:
        task_id = submit_with_callback(server, receiver.url)
        delivery = settled_delivery(server, task_id)
        assert delivery["state"] == "delivered" and successes(delivery) == 1
        first, last = delivery["attempts"][0], delivery["attempts"][-1]
        assert "timed out" in first["error"].lower() and last["status"] == 200
        # The first answer came too late to count; the receiver saw the body again.
        assert len(receiver.for_task(task_id)) == len(delivery["attempts"]) >= 2


def test_a_refusing_receiver_fails_after_the_retry_budget(server: LiveServer) -> None:
    with DownReceiver() as down:  # never comes up
        task_id = submit_with_callback(server, down.url)
        delivery = settled_delivery(server, task_id)
    assert delivery["state"] == "failed" and len(delivery["attempts"]) == RETRIES + 1
    assert all("refused" in a["error"].lower() for a in delivery["attempts"])


def test_a_receiver_that_resets_once_gets_the_result_on_the_retry(server: LiveServer) -> None:
    with MisbehavingReceiver(first_attempts(1, Reply(reset=True))) as receiver:
        task_id = submit_with_callback(server, receiver.url)
        delivery = settled_delivery(server, task_id)
        assert delivery["state"] == "delivered" and successes(delivery) == 1
        first, last = delivery["attempts"][0], delivery["attempts"][-1]
        assert "reset" in first["error"].lower() and last["ok"]
        assert receiver.accepted(task_id) == 1


def test_a_mix_of_receivers_at_once_leaves_every_task_settled_and_logged(
    server: LiveServer,
) -> None:
    with (
        MisbehavingReceiver(always(Reply(hold=HELD))) as slow,
        MisbehavingReceiver(always(Reply(reset=True))) as resetting,
        MisbehavingReceiver(first_attempts(1, Reply(status=503))) as flaky,
        DownReceiver() as refusing,
    ):
        urls = [slow.url, resetting.url, flaky.url, refusing.url] * 8
        with ThreadPoolExecutor(max_workers=8) as pool:
            task_ids = list(pool.map(lambda url: submit_with_callback(server, url), urls))
            deliveries = list(pool.map(lambda t: settled_delivery(server, t), task_ids))
        expected = {slow.url: "failed", resetting.url: "failed", flaky.url: "delivered"}
        expected[refusing.url] = "failed"
        for url, delivery in zip(urls, deliveries, strict=True):
            assert delivery["state"] == expected[url], delivery
            assert successes(delivery) == (1 if url == flaky.url else 0)
        for task_id, url in zip(task_ids, urls, strict=True):
            if url == flaky.url:
                assert flaky.accepted(task_id) == 1


# -- down for a while: on a manual clock, retries come when the test moves it ------------


def advance(server: LiveServer, seconds: float) -> None:
    moved = requests.post(
        server.url + "/__admin/clock/advance", json={"seconds": seconds}, timeout=30
    )
    assert moved.status_code == 200, moved.text


def test_a_receiver_down_longer_than_the_retry_budget_then_up(manual_server: LiveServer) -> None:
    with DownReceiver() as down:
        early = submit_with_callback(manual_server, down.url, "sent while the receiver is down")
        advance(manual_server, 10)  # every retry falls due while it is down
        failed = settled_delivery(manual_server, early)
        assert failed["state"] == "failed" and len(failed["attempts"]) == RETRIES + 1
        assert all("refused" in a["error"].lower() for a in failed["attempts"])

        receiver = down.come_up()
        late = submit_with_callback(manual_server, down.url, "sent once it is up")
        delivered = settled_delivery(manual_server, late)
        assert delivered["state"] == "delivered" and len(delivered["attempts"]) == 1
        advance(manual_server, 60)
        # The failed one is not sent again later, and says so in its log.
        assert receiver.for_task(early) == []
        assert Control(manual_server).delivery_log(early) == failed
        assert receiver.accepted(late) == 1


def test_a_receiver_down_for_less_than_the_retry_budget_gets_the_result(
    manual_server: LiveServer,
) -> None:
    with DownReceiver() as down:
        task_id = submit_with_callback(manual_server, down.url)
        first = Control(manual_server).wait_for_entry(kind="callback", task_id=task_id)
        assert first["attempt"] == 1 and "refused" in first["error"].lower()
        receiver = down.come_up()
        advance(manual_server, 0.1)  # the first retry falls due
        delivery = settled_delivery(manual_server, task_id)
        assert delivery["state"] == "delivered"
        assert [a["ok"] for a in delivery["attempts"]] == [False, True]
        assert receiver.accepted(task_id) == 1


# -- many at once -------------------------------------------------------------------

AT_ONCE = 200


@pytest.fixture(scope="module")
def busy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Tasks take one second, so those submitted together fall due together; a roomier
    timeout, so only the receiver's scripted failures fail an attempt."""
    path = tmp_path_factory.mktemp("callbacks-busy") / "luma-mock.toml"
    config = start_config(path, delay=1.0, callback_timeout=10.0, callback_retries=3)
    with live_server("--config", str(config)) as running:
        yield running


def test_many_tasks_falling_due_at_once_are_each_delivered_exactly_once(
    busy_server: LiveServer,
) -> None:
    with MisbehavingReceiver(first_attempts(1, Reply(status=503))) as receiver:

        def submit(n: int) -> str:
            return submit_with_callback(busy_server, receiver.url, f"{PROMPT} {n}")

        with ThreadPoolExecutor(max_workers=16) as pool:
            task_ids = list(pool.map(submit, range(AT_ONCE)))
            deliveries = list(pool.map(lambda t: settled_delivery(busy_server, t), task_ids))
        assert len(set(task_ids)) == AT_ONCE
        assert {d["state"] for d in deliveries} == {"delivered"}
        assert all(successes(d) == 1 and d["attempts"][-1]["ok"] for d in deliveries)
        assert all(d["attempts"][0]["status"] == 503 for d in deliveries)
        for task_id in task_ids:
            assert receiver.accepted(task_id) == 1, task_id
        attempts = sum(len(d["attempts"]) for d in deliveries)
        assert len(receiver.arrivals) == attempts
    journal = Control(busy_server).journal(kind="callback")
    assert len(journal) == attempts
    ok = [entry["task_id"] for entry in journal if entry.get("status") == 200]
    assert sorted(ok) == sorted(task_ids)
