"""Many clients at once: generating (synchronous and asynchronous), extending videos they
made earlier and retrieving, all interleaved — against the fake as users run it, and
against the engine in process on a real clock.

Nothing may be lost or doubled: every task id handed out is unique and retrievable, the
journal counts exactly one 200 for each task made, and every task ends.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from contract_tests.contract import check
from mock_server.acedata.service import LumaService
from mock_server.engine.config import Settings
from mock_server.engine.delays import DelayModel, Fixed
from mock_server.engine.errors import ApiError
from tests.hardening_support import Control
from tests.support import PROMPT, LiveServer, live_server

THREADS = 16
OPERATIONS = 25  # per thread
# One client's round of operations; it starts with a synchronous generate so that an
# extend always has a video of its own to continue.
ROUND = ("generate", "generate_async", "retrieve", "extend", "retrieve_batch", "extend_async")
MAKES_A_TASK = {"generate", "generate_async", "extend", "extend_async"}
TASKS_PER_CLIENT = sum(
    1 for op in itertools.islice(itertools.cycle(ROUND), OPERATIONS) if op in MAKES_A_TASK
)


@dataclass
class Ledger:
    """What one client did and saw."""

    token: str
    created: list[str] = field(default_factory=list)  # task ids, in order
    videos: list[str] = field(default_factory=list)  # video ids of finished videos
    problems: list[str] = field(default_factory=list)

    def note(self, operation: str, status: int, body: Any) -> None:
        self.problems.append(f"{self.token} {operation}: {status} {body}")


# Both transports take (endpoint, body) and give (status, answer body).
Transport = Callable[[str, dict[str, Any]], tuple[int, Any]]


def run_client(ledger: Ledger, send: Transport) -> Ledger:
    for operation in itertools.islice(itertools.cycle(ROUND), OPERATIONS):
        body: dict[str, Any]
        if operation.startswith("generate"):
            body = {"prompt": f"{PROMPT} {len(ledger.created)}", "aspect_ratio": "21:9"}
        elif operation.startswith("extend"):
            body = {"action": "extend", "prompt": PROMPT, "video_id": ledger.videos[-1]}
        elif operation == "retrieve":
            body = {"action": "retrieve", "id": ledger.created[-1]}
        else:
            body = {"action": "retrieve_batch", "ids": ledger.created[-5:]}
        if operation.endswith("_async"):
            body["async"] = True
        endpoint = "videos" if operation in MAKES_A_TASK else "tasks"
        status, answer = send(endpoint, body)
        if status != 200:
            ledger.note(operation, status, answer)
            continue
        if operation in MAKES_A_TASK:
            ledger.created.append(answer["task_id"])
            if "video_id" in answer:  # a synchronous call: the finished video
                if not check("acedata/videos-result", answer).ok or answer["video_width"] != 1552:
                    ledger.note(operation, status, answer)
                ledger.videos.append(answer["video_id"])
        elif not retrieved_what_was_asked(body, answer):
            ledger.note(operation, status, answer)
    return ledger


def retrieved_what_was_asked(body: dict[str, Any], answer: Any) -> bool:
    if body["action"] == "retrieve":
        return bool(answer["id"] == body["id"])
    return bool(answer["count"] == len(set(body["ids"])))


def run_clients(transport_for: Callable[[str], Transport]) -> list[Ledger]:
    ledgers = [Ledger(f"client-{n:02d}-token") for n in range(THREADS)]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        done = pool.map(lambda ledger: run_client(ledger, transport_for(ledger.token)), ledgers)
        return list(done)


def assert_nothing_lost_or_doubled(ledgers: list[Ledger]) -> list[str]:
    problems = [p for ledger in ledgers for p in ledger.problems]
    assert not problems, "\n".join(problems[:20])
    created = [task_id for ledger in ledgers for task_id in ledger.created]
    assert len(created) == THREADS * TASKS_PER_CLIENT
    assert len(set(created)) == len(created), "a task id was handed out twice"
    return created


# -- over HTTP --------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server("--delay", "0.2", "--seed", "11") as running:
        yield running


def http_transport(server: LiveServer, token: str) -> Transport:
    # A kept-alive session per client, as real clients (the SDK, requests) use one.
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    def send(endpoint: str, body: dict[str, Any]) -> tuple[int, Any]:
        answer = session.post(f"{server.url}/luma/{endpoint}", json=body, timeout=60)
        return answer.status_code, answer.json()

    return send


def test_many_clients_at_once_lose_and_double_nothing(server: LiveServer) -> None:
    ledgers = run_clients(lambda token: http_transport(server, token))
    created = assert_nothing_lost_or_doubled(ledgers)

    control = Control(server)
    with ThreadPoolExecutor(max_workers=8) as pool:
        views = list(pool.map(control.wait_for_task, created))
    assert {view["state"] for view in views} == {"completed"}
    assert all(check("acedata/task-record", view["record"]).ok for view in views)

    for ledger in ledgers:  # every task retrievable by its own token, and only by it
        send = http_transport(server, ledger.token)
        status, batch = send("tasks", {"action": "retrieve_batch", "ids": ledger.created})
        assert status == 200 and batch["count"] == len(ledger.created)
        assert [item["id"] for item in batch["items"]] == ledger.created
    stranger = http_transport(server, "a-stranger-token")
    assert stranger("tasks", {"action": "retrieve", "id": created[0]})[0] == 404

    made = control.journal(method="POST", path="/luma/videos", status=200)
    assert len(made) == len(created)
    assert sorted(entry["task_id"] for entry in made) == sorted(created)
    assert control.journal(method="POST", path="/luma/videos") == made  # no other answer
    assert requests.get(server.url + "/health", timeout=10).json()["tasks"] == len(created)


# -- in process -------------------------------------------------------------------


@pytest.fixture
def engine() -> Iterator[LumaService]:
    delays = DelayModel(Fixed(0.01), Fixed(0.05), Fixed(0.05))
    luma = LumaService(Settings(delays=delays, seed=11))  # a real clock
    yield luma
    luma.close()


def engine_transport(luma: LumaService, token: str) -> Transport:
    def send(endpoint: str, body: dict[str, Any]) -> tuple[int, Any]:
        try:
            if endpoint == "videos":
                return 200, luma.videos(body, token=token, base_url="http://fake.test")
            return 200, luma.tasks(body, token=token)
        except ApiError as error:
            return error.status, error.envelope()

    return send


def test_many_threads_on_the_engine_lose_and_double_nothing(engine: LumaService) -> None:
    ledgers = run_clients(lambda token: engine_transport(engine, token))
    created = assert_nothing_lost_or_doubled(ledgers)

    tasks = [engine.wait_for_state(task_id, "completed") for task_id in created]
    assert len(engine.store) == len(created)
    assert {task.id for task in engine.store} == set(created)
    assert len({task.output_id for task in tasks}) == len(tasks)
    owners = {task_id: ledger.token for ledger in ledgers for task_id in ledger.created}
    assert {task.id: task.token for task in tasks} == owners
    extends = [task for task in tasks if task.action == "extend"]
    assert extends and {task.variant for task in extends} == {"21:9"}
