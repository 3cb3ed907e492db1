"""The AceData half of the consumer suite
(`contract_tests.consumer.dialect.ConsumerDialect`): its cases — each puts the client in
one situation: an answer, a task held while it is polled, a documented error, a fault
below HTTP — with requests drawn from the contract (`strategies`), how an
adapter call is made, the built-in adapter, and the calls made against the real service.
Its checks are in `client`, the validating proxy's verdicts in `verdicts`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..consumer.adapters import load_factory as load_module_factory
from ..consumer.dialect import (
    FAULTS,
    AdapterFactory,
    CallShape,
    ConsumerCase,
    fault_expectation,
)
from ..consumer.run import INSTANT, ClientRun
from ..contract.schema import error_codes, given
from . import PACK, strategies
from .adapters import OPERATIONS as OPERATIONS  # the suite reads it here
from .adapters import RequestsAdapter

QUEUE, WORK = 2.0, 60.0  # how long a held task waits, then generates (fake seconds)
ERRORS = ("invalid_token", "forbidden", "used_up", "too_many_requests", "api_error", "timeout")
REAL_PROMPT = "A paper boat drifts down a rain-soaked street, slow dolly shot"
BUILT_IN = {"requests": RequestsAdapter.factory}


def load_factory(spec: str, client_timeout: float) -> AdapterFactory:
    """``requests`` (the reference client, `RequestsAdapter`), or ``module:callable``."""
    if spec in BUILT_IN:
        return BUILT_IN[spec](timeout=client_timeout)
    return load_module_factory(spec)


def shape(operation: str, fields: dict[str, Any]) -> CallShape:
    if operation == "retrieve":
        return CallShape("POST", "/luma/tasks", (fields["task_id"],))
    return CallShape("POST", "/luma/videos", kwargs=fields, bills_allowed=1)


# -- the situations ----------------------------------------------------------------------

# A call gives its client only the fields it sets: a null in a generated body means "not
# given", which is the client's to spell (left out, or null as the MCP server sends it).


def _without_action(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "action"}


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


INSTANT_VIDEOS = {"match": {"dialect": PACK.name, "endpoint": "videos"}, "then": INSTANT}


def _prepare(run: ClientRun, rules: list[dict[str, Any]] | None = None) -> None:
    """The example's rules, then: anything else is instant too (a running fake given by
    URL may have delays of its own)."""
    run.prepare([*(rules or []), INSTANT_VIDEOS])


def _source(run: ClientRun, body: dict[str, Any]) -> dict[str, Any]:
    """The extend body, pointing at a video the fake really made."""
    video = run.make(
        "/luma/videos",
        {"prompt": "a source video to extend"},
        "a finished video to extend, {video_id}",
    )
    fields = _without_action(body)
    if "video_id" in fields:
        fields["video_id"] = video["video_id"]
    if "video_url" in fields:
        fields["video_url"] = video["video_url"]
    return fields


def _task(run: ClientRun, body: dict[str, Any]) -> str:
    made = run.make("/luma/videos", {**body, "async": True}, "a task to retrieve, {task_id}")
    return str(made["task_id"])


def play_answer(operation: str) -> Callable[[ClientRun, dict[str, Any]], None]:
    def play(run: ClientRun, body: dict[str, Any]) -> None:
        _prepare(run)
        fields = _source(run, body) if operation == "extend" else _without_action(body)
        run.call(operation, fields)

    return play


def play_held_task(run: ClientRun, body: dict[str, Any]) -> None:
    """generate with async, then retrieve while the task is pending, processing (on a
    manual clock) and once it is completed."""
    held = {"delay": WORK, "queue": QUEUE} if run.manual else {"delay": 3600, "queue": 3600}
    _prepare(run, [{"match": {"dialect": PACK.name, "endpoint": "videos"}, "then": held}])
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
        return {"task_id": _task(run, _without_action(body))}
    return _without_action(body)


def _match(operation: str) -> dict[str, Any]:
    if operation == "retrieve":
        return {"dialect": PACK.name, "endpoint": "tasks"}
    return {"dialect": PACK.name, "endpoint": "videos", "action": operation}


def play_error(operation: str, code: str) -> Callable[[ClientRun, dict[str, Any]], None]:
    def play(run: ClientRun, body: dict[str, Any]) -> None:
        _prepare(run, [{"match": _match(operation), "then": {"reject": code}}])
        fields = _target(run, operation, body)
        run.call(operation, fields, expect="error", error_code=code)

    return play


def play_fault(operation: str, kind: str) -> Callable[[ClientRun, dict[str, Any]], None]:
    def play(run: ClientRun, body: dict[str, Any]) -> None:
        seconds = run.dribble_seconds if kind == "dribble" else run.hang_seconds
        _prepare(run, [{"match": _match(operation), "then": {"fault": kind, "seconds": seconds}}])
        fields = _target(run, operation, body)
        run.call(operation, fields, expect=fault_expectation(kind), fault=kind)

    return play


# -- paying per call (x402): a payer and no token, on the fake that plays the gateway ---

# Refusals a well-behaved client raises at once: the gateway says why, nothing was made.
REFUSALS = ("insufficient_funds", "invalid_exact_evm_payload_signature")


def play_paid(operation: str) -> Callable[[ClientRun, dict[str, Any]], None]:
    """The call, paid: one 402, one paid retry; a generate (async) is then retrieved —
    free — until its task is completed."""

    def play(run: ClientRun, body: dict[str, Any]) -> None:
        _prepare(run)
        fields = _source(run, body) if operation == "extend" else _without_action(body)
        with run.paying():
            accepted = run.call(operation, fields)
            seen = accepted.last()
            answer = seen.answer if seen is not None and isinstance(seen.answer, dict) else {}
            task_id = answer.get("task_id")
            if fields.get("async") is True and task_id and "retrieve" in run.operations:
                run.call("retrieve", {"task_id": task_id})

    return play


def play_refused(reason: str) -> Callable[[ClientRun, dict[str, Any]], None]:
    def play(run: ClientRun, body: dict[str, Any]) -> None:
        _prepare(run)
        with run.paying(refusal=reason):
            run.call("generate", _without_action(body), expect="error", error_code=reason)

    return play


def x402_cases() -> list[ConsumerCase]:
    """The situations of a client that pays per call (``verify-client --x402``)."""
    found = [
        ConsumerCase("x402: generate (sync), paid", "generate", "flow", _generate("sync"),
                     play_paid("generate"), x402=True),
        ConsumerCase("x402: generate (async), paid, then retrieve (free)", "generate", "flow",
                     _generate("async"), play_paid("generate"), x402=True),
        ConsumerCase("x402: extend by video_id, paid", "extend", "flow", _extend("id", "async"),
                     play_paid("extend"), x402=True),
    ]  # fmt: skip
    for reason in REFUSALS:
        name = f"x402: generate, payment refused ({reason})"
        refused = ConsumerCase(name, "generate", "error", _generate("async"),
                               play_refused(reason), x402=True)  # fmt: skip
        found.append(refused)
    return found


def cases() -> list[ConsumerCase]:
    """Every case of the suite, in the order they run (the x402 ones last: the suite
    plays them only when asked)."""
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
            status = error_codes(PACK.error)[code].status
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
    return found + x402_cases()


# -- against the real service (each call costs credits) -----------------------------------


def real_plays(
    run: ClientRun, factory: AdapterFactory, proxy_url: str
) -> list[tuple[str, str, str, Callable[[], None]]]:
    """One asynchronous generate (one video's credits) and a retrieve of it, a retrieve
    of an unknown task, and a generate with a wrong token. Fixed inputs."""

    def generate() -> None:
        fields = {"prompt": REAL_PROMPT, "aspect_ratio": "16:9", "async": True}
        accepted = run.call("generate", fields)
        seen = accepted.last()
        task_id = seen.answer.get("task_id") if seen and isinstance(seen.answer, dict) else None
        if task_id and "retrieve" in run.operations:
            run.call("retrieve", {"task_id": task_id}, expect="running")

    def unknown_task() -> None:
        run.call("retrieve", {"task_id": "luma-mock-no-such-task"}, expect="error")

    def wrong_token() -> None:
        with run.adapted(factory(proxy_url, "luma-mock-wrong-token")):
            run.call("generate", {"prompt": REAL_PROMPT, "async": True}, expect="error")

    return [
        ("generate (async), then retrieve", "flow", "generate", generate),
        ("retrieve: an unknown task", "error", "retrieve", unknown_task),
        ("generate: a wrong token", "error", "generate", wrong_token),
    ]
