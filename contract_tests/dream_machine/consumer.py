"""The Dream Machine half of the consumer suite
(`contract_tests.consumer.dialect.ConsumerDialect`): its situations — an answer; a
generation queued, dreaming, or ending after the client's third poll (completed or
failed); an error — 400, 401, 404, 429 with ``Retry-After`` (once, so a client may
retry past it), 500 (with ``x-should-retry: false`` too); a fault below HTTP on a create
and on a get — with create bodies drawn from the contract, how an adapter call is made,
the built-in ``lumaai`` adapter, and the calls made against the real service. Its checks
are in `client`, the validating proxy's verdicts in `verdicts`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from ..consumer.adapters import load_factory as load_module_factory
from ..consumer.dialect import (
    FAULTS,
    AdapterFactory,
    CallShape,
    ConsumerCase,
    fault_expectation,
)
from ..consumer.run import ClientRun
from . import PACK
from . import strategies as D
from .adapters import OPERATIONS as OPERATIONS  # the suite reads it here
from .adapters import LumaaiAdapter
from .client import CREATES

QUEUE, WORK = 2.0, 60.0  # how long a generation the suite makes waits, then dreams
HELD = {"delay": WORK, "queue": QUEUE}  # the suite's own generations stay queued
POLLS_BEFORE_END = 3  # the generation a wait() polls ends after its third poll
REAL_PROMPT = "A paper boat drifts down a rain-soaked street, slow dolly shot"


def load_factory(spec: str, client_timeout: float) -> AdapterFactory:
    """``lumaai`` (the official SDK, `LumaaiAdapter`), or ``module:callable``."""
    if spec == "lumaai":
        return LumaaiAdapter.factory(client_timeout=client_timeout)
    return load_module_factory(spec)


def shape(operation: str, fields: dict[str, Any]) -> CallShape:
    if operation in CREATES:
        return CallShape("POST", CREATES[operation], kwargs=fields, bills_allowed=1)
    if operation == "list":
        return CallShape("GET", "/generations", kwargs=fields)
    generation = fields["generation_id"]
    method = "DELETE" if operation == "delete" else "GET"
    return CallShape(method, f"/generations/{generation}", (generation,))


# -- the situations ----------------------------------------------------------------------


def _match(endpoint: str) -> dict[str, Any]:
    return {"dialect": PACK.name, "endpoint": endpoint}


def _reject(endpoint: str, code: str, **more: Any) -> dict[str, Any]:
    return {"match": _match(endpoint), "then": {"reject": code, **more.pop("then", {})}, **more}


def _made(run: ClientRun) -> str:
    made = run.make(
        "/generations/video",
        {"model": "ray-2", "prompt": "a generation the suite made"},
        "generation {id} (queued)",
    )
    return str(made["id"])


def _create(
    operation: str, rules: tuple[dict[str, Any], ...] = (), expect: str = "answer"
) -> Callable[[ClientRun, dict[str, Any]], None]:
    def play(run: ClientRun, fields: dict[str, Any]) -> None:
        run.prepare(list(rules), HELD)
        run.call(operation, fields, expect=expect)

    return play


def _get(dreaming: bool) -> Callable[[ClientRun, dict[str, Any]], None]:
    def play(run: ClientRun, fields: dict[str, Any]) -> None:
        run.prepare([], HELD)
        generation_id = _made(run)
        if dreaming and run.manual:
            run.advance(QUEUE + 1)
        run.call("get", {"generation_id": generation_id})

    return play


def _list(run: ClientRun, fields: dict[str, Any]) -> None:
    run.prepare([], HELD)
    for _ in range(3):
        _made(run)
    run.call("list", fields)


def _delete(run: ClientRun, fields: dict[str, Any]) -> None:
    run.prepare([], HELD)
    run.call("delete", {"generation_id": _made(run)})


def _wait(failed: bool) -> Callable[[ClientRun, dict[str, Any]], None]:
    def play(run: ClientRun, fields: dict[str, Any]) -> None:
        run.prepare([], HELD)
        generation_id = _made(run)
        fake = run.control

        def end() -> None:
            if failed:
                fake.fail(generation_id, "api_error", "Frame moderation failed")
            else:
                fake.complete(generation_id)

        run.after_requests(
            "GET",
            f"/generations/{generation_id}",
            POLLS_BEFORE_END,
            end,
            f"it {'fails' if failed else 'completes'} after the client's poll {POLLS_BEFORE_END}",
        )
        run.call("wait", {"generation_id": generation_id}, expect="failed" if failed else "answer")

    return play


def _unknown(run: ClientRun, fields: dict[str, Any]) -> None:
    run.prepare([], HELD)
    generation_id = str(uuid.UUID(int=fields["n"], version=4))
    run.call("get", {"generation_id": generation_id}, expect="error")


def _fault(operation: str, kind: str) -> Callable[[ClientRun, dict[str, Any]], None]:
    def play(run: ClientRun, fields: dict[str, Any]) -> None:
        seconds = run.dribble_seconds if kind == "dribble" else run.hang_seconds
        endpoint = "create_video" if operation == "create_video" else "get"
        rule = {"match": _match(endpoint), "then": {"fault": kind, "seconds": seconds}}
        run.prepare([rule], HELD)
        if operation == "get":
            fields = {"generation_id": _made(run)}
        run.call(operation, fields, expect=fault_expectation(kind), fault=kind)

    return play


NOTHING = st.just({})
VIDEO, IMAGE = D.video_requests().map(dict), D.image_requests().map(dict)


def cases() -> list[ConsumerCase]:
    """Every case of the suite, in the order they run."""
    pages = st.fixed_dictionaries({"limit": st.integers(1, 3), "offset": st.integers(0, 3)})
    once_429 = _reject("create_video", "too_many_requests", then={"retry_after": 1}, times=1)
    refused_500 = _reject("create_video", "api_error", then={"should_retry": False})

    def case(name: str, operation: str, kind: str, requests: Any, play: Any) -> ConsumerCase:
        return ConsumerCase(name, operation, kind, lambda run: requests, play)

    def create(name: str, kind: str, rule: dict[str, Any], expect: str) -> ConsumerCase:
        return case(name, "create_video", kind, VIDEO, _create("create_video", (rule,), expect))

    found = [
        case("create a video: 201 and the Generation", "create_video", "flow", VIDEO,
             _create("create_video")),
        case("create an image: 201 and the Generation", "create_image", "flow", IMAGE,
             _create("create_image")),
        case("get a queued generation", "get", "flow", NOTHING, _get(False)),
        case("get a dreaming generation", "get", "flow", NOTHING, _get(True)),
        case("list a page (limit, offset)", "list", "flow", pages, _list),
        case("delete a generation: 204", "delete", "flow", NOTHING, _delete),
        case("wait: completed after the third poll", "wait", "flow", NOTHING, _wait(False)),
        case("wait: failed after the third poll, with a failure_reason", "wait", "flow",
             NOTHING, _wait(True)),
        case("get an unknown id: 404", "get", "error",
             st.fixed_dictionaries({"n": st.integers(1, 2**60)}), _unknown),
        create("create refused: 400", "error", _reject("create_video", "bad_request"), "error"),
        create("create with a refused token: 401", "error",
               _reject("create_video", "invalid_token"), "error"),
        create("create rate-limited once: 429, Retry-After 1", "error", once_429, "either"),
        create("create fails: 500", "error", _reject("create_video", "api_error"), "error"),
        create("create fails: 500 with x-should-retry: false", "error", refused_500, "error"),
    ]  # fmt: skip
    for operation in ("create_video", "get"):
        for kind in FAULTS:
            requests = VIDEO if operation == "create_video" else NOTHING
            found.append(
                case(f"{operation}: fault {kind}", operation, "fault", requests,
                     _fault(operation, kind))
            )  # fmt: skip
    return found


# -- against the real service (each call costs credits) -----------------------------------


def real_plays(
    run: ClientRun, factory: AdapterFactory, proxy_url: str
) -> list[tuple[str, str, str, Callable[[], None]]]:
    """One video (one generation's credits) and a get of it, a get of an unknown id,
    and a create with a wrong token. Fixed inputs."""

    def create() -> None:
        made = run.call("create_video", {"prompt": REAL_PROMPT, "model": "ray-2"})
        seen = made.last()
        generation = seen.answer.get("id") if seen and isinstance(seen.answer, dict) else None
        if generation and "get" in run.operations:
            run.call("get", {"generation_id": generation})

    def unknown() -> None:
        run.call("get", {"generation_id": str(uuid.UUID(int=1, version=4))}, expect="error")

    def wrong_token() -> None:
        with run.adapted(factory(proxy_url, "luma-mock-wrong-token")):
            run.call("create_video", {"prompt": REAL_PROMPT, "model": "ray-2"}, expect="error")

    return [
        ("create a video, then get it", "flow", "create_video", create),
        ("get an unknown id", "error", "get", unknown),
        ("create with a wrong token", "error", "create_video", wrong_token),
    ]
