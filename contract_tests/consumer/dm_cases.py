"""The situations of the Dream Machine consumer suite: each puts the client in one —
an answer, a generation queued, dreaming or ending on the client's third poll, an
error — with create bodies drawn from the contract, and plays its call through a
`DmRun`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

from ..checks.dm_client_calls import Heard
from ..contract.packs import pack

if TYPE_CHECKING:
    from ..dream_machine import strategies as D
else:  # the dialect's half sits above the consumer suite: reached through the registry
    D = pack("dream-machine").load("strategies")
from .dm_run import DmRun
from .dm_stage import QUEUE

POLLS_BEFORE_END = 3  # the generation a wait() polls ends on its third poll


@dataclass(frozen=True)
class DmCase:
    name: str
    operation: str  # the adapter method it needs
    kind: str  # flow or error
    requests: st.SearchStrategy[dict[str, Any]]
    play: Callable[[DmRun, dict[str, Any]], None]


def _create(
    operation: str,
    rules: tuple[dict[str, Any], ...] = (),
    expect: str = "answer",
    header: dict[str, str] | None = None,
) -> Callable[[DmRun, dict[str, Any]], None]:
    def play(run: DmRun, fields: dict[str, Any]) -> None:
        act = (lambda seen: header if seen.method == "POST" else None) if header else None
        run.prepare(rules, act)
        run.call(operation, fields, expect)

    return play


def _reject(endpoint: str, code: str, **more: Any) -> dict[str, Any]:
    return {
        "name": "dm-consumer-case",
        "match": {"endpoint": endpoint},
        "then": {"reject": code, **more.pop("then", {})},
        **more,
    }


def _get(dreaming: bool) -> Callable[[DmRun, dict[str, Any]], None]:
    def play(run: DmRun, fields: dict[str, Any]) -> None:
        run.prepare()
        generation_id = run.made()
        if dreaming:
            run.stage.engine.advance(QUEUE + 1)
            run.setup.append(f"moved the clock {QUEUE + 1:g} s: it is dreaming")
        run.call("get", {"generation_id": generation_id})

    return play


def _list(run: DmRun, fields: dict[str, Any]) -> None:
    run.prepare()
    for _ in range(3):
        run.made()
    run.call("list", fields)


def _delete(run: DmRun, fields: dict[str, Any]) -> None:
    run.prepare()
    run.call("delete", {"generation_id": run.made()})


def _wait(failed: bool) -> Callable[[DmRun, dict[str, Any]], None]:
    def play(run: DmRun, fields: dict[str, Any]) -> None:
        run.prepare()
        generation_id = run.made()
        polls = [0]

        def end_on_third_poll(seen: Heard) -> None:
            if seen.method == "GET" and seen.path.endswith(generation_id):
                polls[0] += 1
                if polls[0] == POLLS_BEFORE_END and failed:
                    run.stage.engine.fail(generation_id, "api_error", "Frame moderation failed")
                elif polls[0] == POLLS_BEFORE_END:
                    run.stage.engine.complete(generation_id)

        run.stage.ear.act = end_on_third_poll
        run.setup.append(
            f"it {'fails' if failed else 'completes'} on the client's poll {POLLS_BEFORE_END}"
        )
        run.call("wait", {"generation_id": generation_id}, "failed" if failed else "answer")

    return play


def _unknown(run: DmRun, fields: dict[str, Any]) -> None:
    run.prepare()
    run.call("get", {"generation_id": str(uuid.UUID(int=fields["n"], version=4))}, "error")


NOTHING = st.just({})
VIDEO, IMAGE = D.video_requests().map(dict), D.image_requests().map(dict)


def dm_cases() -> list[DmCase]:
    pages = st.fixed_dictionaries({"limit": st.integers(1, 3), "offset": st.integers(0, 3)})
    once_429 = _reject("create_video", "too_many_requests", then={"retry_after": 1}, times=1)
    return [
        DmCase(
            "create a video: 201 and the Generation",
            "create_video",
            "flow",
            VIDEO,
            _create("create_video"),
        ),
        DmCase(
            "create an image: 201 and the Generation",
            "create_image",
            "flow",
            IMAGE,
            _create("create_image"),
        ),
        DmCase("get a queued generation", "get", "flow", NOTHING, _get(False)),
        DmCase("get a dreaming generation", "get", "flow", NOTHING, _get(True)),
        DmCase("list a page (limit, offset)", "list", "flow", pages, _list),
        DmCase("delete a generation: 204", "delete", "flow", NOTHING, _delete),
        DmCase("wait: completed on the third poll", "wait", "flow", NOTHING, _wait(False)),
        DmCase(
            "wait: failed on the third poll, with a failure_reason",
            "wait",
            "flow",
            NOTHING,
            _wait(True),
        ),
        DmCase(
            "get an unknown id: 404",
            "get",
            "error",
            st.fixed_dictionaries({"n": st.integers(1, 2**60)}),
            _unknown,
        ),
        DmCase(
            "create refused: 400",
            "create_video",
            "error",
            VIDEO,
            _create("create_video", (_reject("create_video", "bad_request"),), "error"),
        ),
        DmCase(
            "create with a refused token: 401",
            "create_video",
            "error",
            VIDEO,
            _create("create_video", (_reject("create_video", "invalid_token"),), "error"),
        ),
        DmCase(
            "create rate-limited once: 429, Retry-After 1",
            "create_video",
            "error",
            VIDEO,
            _create("create_video", (once_429,), "either"),
        ),
        DmCase(
            "create fails: 500",
            "create_video",
            "error",
            VIDEO,
            _create("create_video", (_reject("create_video", "api_error"),), "error"),
        ),
        DmCase(
            "create fails: 500 with x-should-retry: false",
            "create_video",
            "error",
            VIDEO,
            _create(
                "create_video",
                (_reject("create_video", "api_error"),),
                "error",
                {"x-should-retry": "false"},
            ),
        ),
    ]
