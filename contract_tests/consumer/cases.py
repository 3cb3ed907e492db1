"""The consumer suite's cases: each puts the client in one situation — an answer, a
task held while it is polled, a documented error, a broken answer — with requests drawn
from the contract (`strategies`), and plays its calls through a `ClientRun`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

from ..contract.packs import default_pack

if TYPE_CHECKING:
    from ..acedata import strategies
else:  # the dialect's half sits above the consumer suite: reached through the registry
    strategies = default_pack().load("strategies")
from ..contract.schema import error_codes, given
from .run import ClientRun

QUEUE, WORK = 2.0, 60.0  # how long a held task waits, then generates (fake seconds)
ERRORS = ("invalid_token", "forbidden", "used_up", "too_many_requests", "api_error", "timeout")
FAULTS = ("reset", "empty", "malformed_json", "truncated", "hang")


@dataclass(frozen=True)
class ConsumerCase:
    """One situation the client is put in; `play` makes its calls (checks included)."""

    name: str
    operation: str  # the adapter method it needs
    kind: str  # flow, error or fault
    requests: Callable[[ClientRun], st.SearchStrategy[dict[str, Any]]]
    play: Callable[[ClientRun, dict[str, Any]], None]


def _without_action(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "action"}


# A call gives its client only the fields it sets: a null in a generated body means "not
# given", which is the client's to spell (left out, or null as the MCP server sends it).


def _generate(mode: strategies.Mode | None) -> Callable[[ClientRun], Any]:
    return lambda run: strategies.generate_requests(mode=mode, callback_url=run.callback_url).map(
        given
    )


SOURCE_ID = "source-video-id"  # replaced by the video the suite makes first
SOURCE_URL = "https://source.example.test/luma/source.mp4"


def _extend(by: str, mode: strategies.Mode | None = None) -> Callable[[ClientRun], Any]:
    return lambda run: strategies.extend_requests(
        by=by,  # type: ignore[arg-type]
        mode=mode,
        callback_url=run.callback_url,
        video_ids=[SOURCE_ID],
        video_urls=[SOURCE_URL],
    ).map(given)


def _source(run: ClientRun, body: dict[str, Any]) -> dict[str, Any]:
    """The extend body, pointing at a video the fake really made."""
    video = run.make_video()
    fields = _without_action(body)
    if "video_id" in fields:
        fields["video_id"] = video["video_id"]
    if "video_url" in fields:
        fields["video_url"] = video["video_url"]
    return fields


def play_answer(operation: str) -> Callable[[ClientRun, dict[str, Any]], None]:
    def play(run: ClientRun, body: dict[str, Any]) -> None:
        run.prepare()
        fields = _source(run, body) if operation == "extend" else _without_action(body)
        run.call(operation, fields)

    return play


def play_held_task(run: ClientRun, body: dict[str, Any]) -> None:
    """generate with async, then retrieve while the task is pending, processing (on a
    manual clock) and once it is completed."""
    held = {"delay": WORK, "queue": QUEUE} if run.manual else {"delay": 3600, "queue": 3600}
    run.prepare([{"match": {"endpoint": "videos"}, "then": held}])
    accepted = run.call("generate", _without_action(body))
    seen = accepted.last()
    task_id = seen.answer.get("task_id") if seen and isinstance(seen.answer, dict) else None
    if task_id is None or "retrieve" not in run.operations:
        return
    ask = {"task_id": task_id}  # the fake's id, whatever the client made of it
    run.call("retrieve", ask, expect="running")
    if run.manual:
        run.advance(QUEUE)
        run.call("retrieve", ask, expect="running")
        run.advance(WORK)
    else:
        run.complete(task_id)
    run.call("retrieve", ask)


def _target(run: ClientRun, operation: str, body: dict[str, Any]) -> dict[str, Any]:
    """Make what the operation works on, and return the adapter's fields."""
    if operation == "extend":
        return _source(run, body)
    if operation == "retrieve":
        return {"task_id": run.make_task(_without_action(body))}
    return _without_action(body)


def _match(operation: str) -> dict[str, Any]:
    if operation == "retrieve":
        return {"endpoint": "tasks"}
    return {"endpoint": "videos", "action": operation}


def play_error(operation: str, code: str) -> Callable[[ClientRun, dict[str, Any]], None]:
    def play(run: ClientRun, body: dict[str, Any]) -> None:
        run.prepare([{"match": _match(operation), "then": {"reject": code}}])
        fields = _target(run, operation, body)
        run.call(operation, fields, expect="error", error_code=code)

    return play


def play_fault(operation: str, kind: str) -> Callable[[ClientRun, dict[str, Any]], None]:
    def play(run: ClientRun, body: dict[str, Any]) -> None:
        then = {"fault": kind, "seconds": run.hang_seconds}
        run.prepare([{"match": _match(operation), "then": then}])
        fields = _target(run, operation, body)
        run.call(operation, fields, expect="fault", fault=kind)

    return play


def cases() -> list[ConsumerCase]:
    """Every case of the suite, in the order they run."""
    found = [
        ConsumerCase(
            "generate (sync)", "generate", "flow", _generate("sync"), play_answer("generate")
        ),
        ConsumerCase(
            "generate (async), then retrieve while pending, processing, completed",
            "generate",
            "flow",
            _generate("async"),
            play_held_task,
        ),
        ConsumerCase(
            "generate (callback_url)",
            "generate",
            "flow",
            _generate("callback"),
            play_answer("generate"),
        ),
        ConsumerCase("extend by video_id", "extend", "flow", _extend("id"), play_answer("extend")),
        ConsumerCase(
            "extend by video_url", "extend", "flow", _extend("url"), play_answer("extend")
        ),
    ]
    requests_for = {
        "generate": _generate(None),
        "extend": _extend("id"),
        "retrieve": _generate("async"),
    }
    for operation in ("generate", "extend", "retrieve"):
        codes = ERRORS + (("not_found",) if operation == "retrieve" else ())
        for code in codes:
            status = error_codes("acedata/error")[code].status
            found.append(
                ConsumerCase(
                    f"{operation}: {status} {code}",
                    operation,
                    "error",
                    requests_for[operation],
                    play_error(operation, code),
                )
            )
    for operation in ("generate", "retrieve"):
        for kind in FAULTS:
            found.append(
                ConsumerCase(
                    f"{operation}: fault {kind}",
                    operation,
                    "fault",
                    _generate("async") if operation == "generate" else requests_for[operation],
                    play_fault(operation, kind),
                )
            )
    return found
