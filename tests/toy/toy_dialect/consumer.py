"""The toy half of the consumer suite (`contract_tests.consumer.dialect.ConsumerDialect`):
a job made; a job read while queued; an unknown id (404); a create refused (400, 500);
every fault below HTTP on a create and on a get."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from contract_tests.consumer.adapters import load_factory as load_module_factory
from contract_tests.consumer.dialect import (
    FAULTS,
    AdapterFactory,
    CallShape,
    ConsumerCase,
    fault_expectation,
)
from contract_tests.consumer.run import ClientRun

from . import PACK
from . import strategies as T
from .adapters import OPERATIONS as OPERATIONS
from .adapters import ToyClient

HELD = {"delay": 60.0, "queue": 2.0}  # the suite's own jobs stay queued
Play = Callable[[ClientRun, dict[str, Any]], None]


def load_factory(spec: str, client_timeout: float) -> AdapterFactory:
    if spec == "toy":
        return lambda base_url, token: ToyClient(base_url, token, timeout=client_timeout / 2)
    return load_module_factory(spec)


def shape(operation: str, fields: dict[str, Any]) -> CallShape:
    if operation == "create":
        return CallShape("POST", "/jobs", kwargs=fields, bills_allowed=1)
    return CallShape("GET", f"/jobs/{fields['job_id']}", (fields["job_id"],))


def _rule(endpoint: str, then: dict[str, Any]) -> dict[str, Any]:
    return {"match": {"dialect": PACK.name, "endpoint": endpoint}, "then": then}


def _made(run: ClientRun) -> str:
    return str(run.make("/jobs", {"prompt": "a job the suite made"}, "job {id} (queued)")["id"])


def _create(rules: tuple[dict[str, Any], ...] = (), expect: str = "answer") -> Play:
    def play(run: ClientRun, fields: dict[str, Any]) -> None:
        run.prepare(list(rules), HELD)
        run.call("create", fields, expect=expect)

    return play


def _get(run: ClientRun, fields: dict[str, Any]) -> None:
    run.prepare([], HELD)
    run.call("get", {"job_id": _made(run)})


def _unknown(run: ClientRun, fields: dict[str, Any]) -> None:
    run.prepare([], HELD)
    run.call("get", {"job_id": str(uuid.UUID(int=fields["n"], version=4))}, expect="error")


def _fault(operation: str, kind: str) -> Play:
    def play(run: ClientRun, fields: dict[str, Any]) -> None:
        seconds = run.dribble_seconds if kind == "dribble" else run.hang_seconds
        run.prepare([_rule(operation, {"fault": kind, "seconds": seconds})], HELD)
        if operation == "get":
            fields = {"job_id": _made(run)}
        run.call(operation, fields, expect=fault_expectation(kind), fault=kind)

    return play


def cases() -> list[ConsumerCase]:
    jobs, nothing = T.job_requests(), st.just({})

    def case(name: str, operation: str, kind: str, requests: Any, play: Play) -> ConsumerCase:
        return ConsumerCase(name, operation, kind, lambda run: requests, play)

    found = [
        case("create a job: 201 and the job", "create", "flow", jobs, _create()),
        case("get a queued job", "get", "flow", nothing, _get),
        case("get an unknown id: 404", "get", "error",
             st.fixed_dictionaries({"n": st.integers(1, 2**60)}), _unknown),
        case("create refused: 400", "create", "error", jobs,
             _create((_rule("create", {"reject": "bad_request"}),), "error")),
        case("create fails: 500", "create", "error", jobs,
             _create((_rule("create", {"reject": "api_error"}),), "error")),
    ]  # fmt: skip
    for operation in ("create", "get"):
        for kind in FAULTS:
            requests = jobs if operation == "create" else nothing
            found.append(case(f"{operation}: fault {kind}", operation, "fault", requests,
                              _fault(operation, kind)))  # fmt: skip
    return found


def real_plays(
    run: ClientRun, factory: AdapterFactory, proxy_url: str
) -> list[tuple[str, str, str, Callable[[], None]]]:
    """One job and a get of it, against the real service (here, a stand-in)."""

    def create() -> None:
        seen = run.call("create", {"prompt": "a real job"}).last()
        job = seen.answer.get("id") if seen and isinstance(seen.answer, dict) else None
        if job:
            run.call("get", {"job_id": job})

    return [("create a job, then get it", "flow", "create", create)]
