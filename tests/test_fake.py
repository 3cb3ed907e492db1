"""One fake, its dialects as equals (`mock_server.engine.fake.Fake`), and the one store
interface both kinds of store implement (`mock_server.engine.store.Store`)."""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import pytest
import requests
from flask.testing import FlaskClient

from mock_server.acedata import DIALECT as ACEDATA
from mock_server.dream_machine import DIALECT as DREAM_MACHINE
from mock_server.engine.clock import ManualClock
from mock_server.engine.config import Settings
from mock_server.engine.delays import DelayModel, Fixed
from mock_server.engine.dialect import Route
from mock_server.engine.fake import Fake
from mock_server.engine.memory import MemoryStore
from mock_server.engine.shared import Shared
from mock_server.engine.store import Store
from mock_server.harness.process import ServedFake
from mock_server.web.app import create_app
from tests.support import AUTH, PROMPT

CREATE = "/dream-machine/v1/generations/video"
VIDEO = {"model": "ray-2", "prompt": "a tiger in the snow"}


def make(*dialects: Any) -> Fake:
    settings = Settings(clock="manual", seed=3, delays=DelayModel(Fixed(2), Fixed(60), Fixed(60)))
    return Fake(dialects, settings, clock=ManualClock(1_700_000_000.0))


@pytest.fixture(params=["acedata first", "dream machine first"])
def fake(request: pytest.FixtureRequest) -> Iterator[Fake]:
    """Both dialects, registered in either order: neither may be the root."""
    order = (
        (ACEDATA, DREAM_MACHINE) if request.param == "acedata first" else (DREAM_MACHINE, ACEDATA)
    )
    made = make(*order)
    yield made
    made.close()


@pytest.fixture
def client(fake: Fake) -> FlaskClient:
    return create_app(fake).test_client()


def test_every_dialect_is_served_whatever_the_order(client: FlaskClient) -> None:
    acedata = client.post("/luma/videos", json={"prompt": PROMPT, "async": True}, headers=AUTH)
    assert acedata.status_code == 200 and acedata.get_json()["task_id"]
    dream = client.post(CREATE, json=VIDEO, headers=AUTH)
    assert dream.status_code == 201 and dream.get_json()["state"] == "queued"


def test_an_unclaimed_path_is_answered_by_the_dialect_that_owns_no_prefix(
    client: FlaskClient,
) -> None:
    # Whatever the order, AceData (which owns no prefix) answers every other path...
    outside = client.get("/no/such/path", headers=AUTH)
    assert outside.status_code == 404
    assert outside.get_json()["error"]["code"] == "not_found"
    # ... and Dream Machine answers under its own prefix, in its own shape.
    inside = client.get("/dream-machine/v1/no/such/path", headers=AUTH)
    assert inside.status_code == 404
    assert set(inside.get_json()) == {"detail"}


def test_a_dialect_of_prefixes_only_answers_what_nobody_claims_when_alone() -> None:
    alone = make(DREAM_MACHINE)
    try:
        assert alone.dialect_of("/anywhere") is DREAM_MACHINE
        answer = create_app(alone).test_client().get("/anywhere", headers=AUTH)
        assert answer.status_code == 404 and set(answer.get_json()) == {"detail"}
    finally:
        alone.close()


def test_a_reset_through_any_engine_resets_the_whole_fake(fake: Fake, client: FlaskClient) -> None:
    client.post("/luma/videos", json={"prompt": PROMPT, "async": True}, headers=AUTH)
    client.post(CREATE, json=VIDEO, headers=AUTH)
    fake.advance(10)
    assert all(len(engine.store) == 1 for engine in fake.engines.values())
    last = list(fake.engines.values())[-1]  # the one made last: no elder resets it
    last.reset()
    assert all(len(engine.store) == 0 for engine in fake.engines.values())
    assert fake.clock.now() == 1_700_000_000.0
    assert fake.journal.entries() == []


def test_delays_set_through_one_engine_are_every_dialect_s(fake: Fake) -> None:
    first, last = fake.engines.values()
    last.set_delays("instant")
    assert first.delays is last.delays is fake.delays


def test_the_control_api_finds_a_task_of_any_dialect(client: FlaskClient) -> None:
    created = client.post(CREATE, json=VIDEO, headers=AUTH).get_json()
    done = client.post(f"/__admin/tasks/{created['id']}/complete")
    assert done.status_code == 200 and done.get_json()["state"] == "completed"
    missing = client.get("/__admin/tasks/no-such-task")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["message"] == "task 'no-such-task' was not found"


def test_health_counts_every_dialect_s_tasks(client: FlaskClient) -> None:
    client.post("/luma/videos", json={"prompt": PROMPT, "async": True}, headers=AUTH)
    client.post(CREATE, json=VIDEO, headers=AUTH)
    assert client.get("/health").get_json()["tasks"] == 2


def test_one_dialect_is_served_once() -> None:
    fake = make(ACEDATA)
    try:
        with pytest.raises(ValueError, match="served already"):
            fake.add(ACEDATA)
    finally:
        fake.close()


class _Squatter:
    """A dialect that claims another's exact path: refused when the routes are built."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    name = "squatter"
    routes: ClassVar = MappingProxyType({"/luma/videos": Route("videos", frozenset({"POST"}))})
    route_templates: ClassVar = MappingProxyType({})


def test_two_dialects_may_not_route_one_path() -> None:
    fake = make(ACEDATA, _Squatter(ACEDATA))
    try:
        with pytest.raises(ValueError, match="two dialects route /luma/videos"):
            create_app(fake)
    finally:
        fake.close()


def test_the_memory_and_the_shared_store_implement_one_protocol() -> None:
    # The engine calls only `Store`: each store has each of its methods, taking the
    # same parameters (its two properties, the clock and where it starts, are set on
    # each instance).
    methods = [n for n, v in vars(Store).items() if inspect.isfunction(v) and n[0] != "_"]
    assert {"tasks", "add_task", "schedule_end", "end", "ended", "listening"} <= set(methods)
    for store in (MemoryStore, Shared):
        for name in methods:
            kept = getattr(store, name, None)
            assert kept is not None, f"{store.__name__} lacks {name}"
            promised = inspect.signature(getattr(Store, name)).parameters
            assert list(inspect.signature(kept).parameters) == list(promised), name
    memory = MemoryStore(ManualClock(5.0))
    assert (memory.clock.now(), memory.clock_start) == (5.0, 5.0)


TOY = Path(__file__).resolve().parent / "toy"  # a dialect registered from outside


def test_serve_serves_every_registered_dialect_one_from_outside_too() -> None:
    # No line of the packages names the toy dialect: the registry brings it to `serve`.
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(TOY), os.environ.get("PYTHONPATH")]))}
    served = ServedFake.serve("--port", "0", "--clock", "manual", env=env)
    try:
        job = requests.post(f"{served.url}/toy/v1/jobs", json={"prompt": "a square"}, headers=AUTH)
        assert job.status_code == 201 and job.json()["status"] == "queued"
        seen = requests.get(f"{served.url}/toy/v1/jobs/{job.json()['id']}", headers=AUTH)
        assert seen.json()["id"] == job.json()["id"]
        assert requests.get(f"{served.url}/toy/v1/nothing", headers=AUTH).json() == {
            "oops": "no such path: /toy/v1/nothing"
        }
        acedata = requests.post(f"{served.url}/luma/videos", json={}, headers=AUTH)
        assert acedata.status_code == 400 and "error" in acedata.json()
        task = requests.get(f"{served.url}/__admin/tasks/{job.json()['id']}").json()
        assert task["record"]["status"] == "queued"
    finally:
        served.stop()
