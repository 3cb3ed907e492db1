"""The provider suite's phases for the Dream Machine dialect (``verify --dialect
dream-machine``), driving the same `Provider` as the AceData phases: the same checks
registry (the ``dm-*`` checks and the shared ones), budget, recorder and waits.

Cheap plans: missing, malformed and wrong tokens; every create rule broken one at a
time; malformed bodies; unknown ids on get, delete, upscale and audio (404); list pages
at any limit and offset; ping and credits. Billable plans (every create, upscale and
audio counts): video and image creates brought to their end (clock or polling), with a
callback on loopback targets, failed through the control API where there is one, and a
delete that must be 204 then 404.

Upscale and audio (POST /generations/{id}/upscale|audio) are probed once with an unknown
id: a target that answers them in this dialect's shape (404 ``{"detail"}``, or 2xx) gets
their plans and machine rules; elsewhere they are skipped with a note.
"""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import strategies as st

from ..checks import Answer, Case, CheckFailure
from ..checks import run_checks as _run_checks
from ..contract.packs import pack as dialect
from ..contract.strategies import dream_machine as D
from .plans import Plan, stateful_reserve
from .runner import Provider

DREAM_MACHINE = "dream-machine"

PREFIX = dialect(DREAM_MACHINE).path_prefix
CREATE_PATHS = {
    "video": "/generations/video",
    "image": "/generations/image",
    "reframe-image": "/generations/image/reframe",
    "reframe-video": "/generations/video/reframe",
    "modify-video": "/generations/video/modify",
}
# The creates Luma documents beside video and image: checked where the target serves them.
MORE_CREATES = {
    "reframe-image": D.reframe_image_requests(),
    "reframe-video": D.reframe_video_requests(),
    "modify-video": D.modify_video_requests(),
}
DERIVED = ("upscale", "audio")
DERIVE_BODIES = {
    "upscale": st.fixed_dictionaries(
        {"generation_type": st.just("upscale_video")},
        optional={"resolution": st.sampled_from(("1080p", "4k"))},
    ),
    "audio": st.fixed_dictionaries(
        {"generation_type": st.just("add_audio")},
        optional={"prompt": D.prompts(), "negative_prompt": D.prompts()},
    ),
}


def dm_case(operation: str, method: str, path: str, body: Any = None, **more: Any) -> Case:
    return Case(operation, body, method=method, path=PREFIX + path, dialect=DREAM_MACHINE, **more)


def get_case(generation_id: str, expect: int = 200) -> Case:
    path = f"/generations/{generation_id}"
    return dm_case("get", "GET", path, label="get", expect_status=expect, task_id=generation_id)


def list_case(limit: int | None = None, offset: int | None = None) -> Case:
    query = "&".join(f"{k}={v}" for k, v in (("limit", limit), ("offset", offset)) if v is not None)
    path = "/generations" + (f"?{query}" if query else "")
    return dm_case("list", "GET", path, label="list", expect_status=200)


def unknown_id() -> st.SearchStrategy[str]:
    return st.uuids(version=4).map(str)


# -- what the plans and the machine do -------------------------------------------------


def create(provider: Provider, kind: str, body: dict[str, Any], label: str) -> str | None:
    """POST a create; the new generation's id when it was made (201 with an id)."""
    if body.get("callback_url"):
        body = provider.unique_callback(body)
    case = dm_case("create", "POST", CREATE_PATHS[kind], body, label=label)
    answer = provider.exchange(case)
    made = answer.json_or_none()
    if answer.status != 201 or not isinstance(made, dict) or not isinstance(made.get("id"), str):
        return None
    case.task_id = made["id"]
    if body.get("callback_url"):
        provider.dm_callbacks.append(case)
    return made["id"]


def settle(provider: Provider, generation_id: str) -> dict[str, Any] | None:
    return provider.settle(generation_id, ask=get_case)


def check_callbacks(provider: Provider, case: Case, generation: dict[str, Any]) -> None:
    """Once a generation with a callback_url has ended, its callbacks are due: the end's
    must arrive; each that came is checked as a Generation of its id."""
    received = provider.callback_for(case.body["callback_url"])
    if received is None:
        provider.current.append(
            CheckFailure(
                f"no callback for generation {case.task_id} arrived",
                expected=f"a POST to {case.body['callback_url']}",
                actual="nothing within 10 s of its end",
                check="dm-callback-shape",
                case=case,
            )
        )
        return
    body = received.body
    content = body.encode() if isinstance(body, str) else _json(body)
    answer = Answer(200, {"content-type": "application/json"}, content)
    callback = Case("callback", case.body, path=case.path, label=case.label,
                    task_id=case.task_id, dialect=DREAM_MACHINE)  # fmt: skip
    provider.current.extend(_run_checks(provider.ctx, callback, answer))


def _json(value: Any) -> bytes:
    import json

    return json.dumps(value).encode()


def lifecycle(provider: Provider, kind: str, body: dict[str, Any], label: str) -> None:
    """One billable create and what follows: its end, its callback, a get, the list."""
    generation_id = create(provider, kind, body, label)
    if generation_id is None:
        return
    ended = settle(provider, generation_id)
    if ended is None:
        return
    if body.get("callback_url"):
        case = provider.dm_callbacks.pop()
        check_callbacks(provider, case, ended)
    provider.exchange(get_case(generation_id))
    if ended.get("state") == "completed":
        provider.dm_completed.append(generation_id)


def failing(provider: Provider, body: dict[str, Any]) -> None:
    """A create failed through the control API: it must show failed with a reason."""
    generation_id = create(provider, "video", body, "create-video/failed")
    if generation_id is None:
        return
    provider.admin("POST", f"/tasks/{generation_id}/fail", {"code": "api_error"})
    settle(provider, generation_id)


def delete_flow(provider: Provider, body: dict[str, Any]) -> None:
    """Create, delete (204), then get, delete again (404) and list (not there)."""
    generation_id = create(provider, "video", body, "create-video/delete")
    if generation_id is None:
        return
    delete(provider, generation_id)


def delete(provider: Provider, generation_id: str) -> None:
    path = f"/generations/{generation_id}"
    gone = generation_id in provider.ctx.history.deleted
    case = dm_case("delete", "DELETE", path, label="delete", task_id=generation_id,
                   expect_status=404 if gone else 204)  # fmt: skip
    if provider.exchange(case).status == 204:
        provider.exchange(get_case(generation_id, expect=404))
        provider.exchange(list_case(limit=100))


def derive(provider: Provider, operation: str, generation_id: str, body: dict[str, Any]) -> Answer:
    """Upscale or add audio to a generation (billable: it makes a new one); a 409 says
    the generation is in no state for it (an image, not completed, at its highest)."""
    gone = generation_id in provider.ctx.history.deleted
    case = dm_case("derive", "POST", f"/generations/{generation_id}/{operation}", body,
                   label=operation, task_id=generation_id,
                   expect_status=404 if gone else None)  # fmt: skip
    answer = provider.exchange(case)
    made = answer.json_or_none()
    if answer.status == 200 and isinstance(made, dict) and isinstance(made.get("id"), str):
        settle(provider, made["id"])
    return answer


def probe_more_creates(provider: Provider) -> list[str]:
    """The reframe and modify creates the target serves in this dialect: an empty body
    must be refused 400 ``{"detail"}`` (nothing is made, nothing billed)."""
    served = []
    for kind in MORE_CREATES:
        headers = {"authorization": f"Bearer {provider.target.token}",
                   "content-type": "application/json"}  # fmt: skip
        answer = provider.transmit("POST", PREFIX + CREATE_PATHS[kind], b"{}", headers, 30.0)
        body = answer.json_or_none()
        if answer.status == 400 and isinstance(body, dict) and "detail" in body:
            served.append(kind)
    missing = [CREATE_PATHS[k] for k in MORE_CREATES if k not in served]
    if missing:
        provider.notes.append(
            f"not served in this dialect's shape (an empty body was not a 400 {{detail}}): "
            f"{', '.join(missing)}; not checked"
        )
    return served


def probe_derived(provider: Provider) -> bool:
    """Whether the target serves upscale and audio in this dialect (see the module doc)."""
    missing = str(uuid.UUID(int=0, version=4))
    for operation in DERIVED:
        path = f"{PREFIX}/generations/{missing}/{operation}"
        body = _json(
            {"generation_type": "upscale_video" if operation == "upscale" else "add_audio"}
        )
        headers = {"authorization": f"Bearer {provider.target.token}",
                   "content-type": "application/json"}  # fmt: skip
        answer = provider.transmit("POST", path, body, headers, 30.0)
        shaped = isinstance(answer.json_or_none(), dict) and "detail" in answer.json_or_none()
        if not (200 <= answer.status < 300 or (answer.status == 404 and shaped)):
            provider.notes.append(
                f"POST /generations/{{id}}/{operation} is not served in this dialect's shape "
                f"(HTTP {answer.status} for an unknown id): upscale and audio not checked"
            )
            return False
    return True


# -- the plans ----------------------------------------------------------------------------


def dm_cheap_plans(provider: Provider, n: int) -> list[Plan]:
    def auth(kind_where: tuple[str, str]) -> None:
        kind, where = kind_where
        if where == "create":
            if kind == "wrong":
                return  # a wrong token is probed on reads only: nothing to bill
            case = dm_case("create", "POST", CREATE_PATHS["video"],
                           {"model": "ray-2", "prompt": "auth probe"})  # fmt: skip
        elif where == "get":
            case = get_case(str(uuid.UUID(int=1, version=4)))
        else:
            case = list_case()
        case.auth, case.label = kind, f"token-{kind}"
        provider.exchange(case)

    def invalid(item: Any) -> None:
        case = dm_case("create", "POST", CREATE_PATHS[item.endpoint], item.body,
                       raw=item.raw, label=item.rule, valid=False)  # fmt: skip
        if provider.is_risky(case):
            provider.risky_skipped += 1
            return
        provider.exchange(case)

    def unknown(item: tuple[str, str]) -> None:
        operation, generation_id = item
        if operation == "get":
            provider.exchange(get_case(generation_id, expect=404))
        elif operation == "delete":
            path = f"/generations/{generation_id}"
            provider.exchange(dm_case("delete", "DELETE", path, label="unknown-id",
                                      task_id=generation_id, expect_status=404))  # fmt: skip
        else:
            path = f"/generations/{generation_id}/{operation}"
            body = {"generation_type": "upscale_video" if operation == "upscale" else "add_audio"}
            provider.exchange(dm_case("derive", "POST", path, body, label="unknown-id",
                                      task_id=generation_id, expect_status=404))  # fmt: skip

    def page(query: tuple[int | None, int | None]) -> None:
        provider.exchange(list_case(*query))

    def small(operation: str) -> None:
        provider.exchange(dm_case(operation, "GET", f"/{operation}", label=operation))

    kinds = st.tuples(st.sampled_from(("missing", "malformed", "wrong")),
                      st.sampled_from(("create", "get", "list")))  # fmt: skip
    operations = ("get", "delete", *(DERIVED if provider.dm_derived else ()))
    pages = st.tuples(st.none() | st.integers(0, 120), st.none() | st.integers(0, 40))
    return [
        Plan("auth", "dm auth", kinds, auth, 9),
        Plan("invalid", "invalid creates", D.invalid_dm_requests(), invalid, n),
        Plan("invalid", "malformed creates", D.malformed_dm_bodies(), invalid, 3),
        Plan(
            "invalid",
            "unknown ids",
            st.tuples(st.sampled_from(operations), unknown_id()),
            unknown,
            max(2, n // 4),
        ),
        Plan("reads", "list pages", pages, page, max(2, n // 4)),
        Plan("reads", "ping and credits", st.sampled_from(("ping", "credits")), small, 2),
    ]


def dm_billable_plans(provider: Provider, n: int) -> list[Plan]:
    """The budget spread over the billable flows, a sixth kept for the machine."""
    receiver = provider.receiver.url if provider.target.callbacks else None

    def made(kind: str, label: str) -> Any:
        return lambda body: lifecycle(provider, kind, body, label)

    flows: list[tuple[str, st.SearchStrategy[Any], Any]] = [
        ("create-video", D.video_requests(), made("video", "create-video")),
        ("create-image", D.image_requests(), made("image", "create-image")),
        ("delete", D.video_requests(), lambda b: delete_flow(provider, b)),
    ]
    if receiver is not None:
        with_callback = D.video_requests(callback_url=receiver)
        flows.insert(
            1, ("create-video/callback", with_callback, made("video", "create-video/callback"))
        )
    if provider.control is not None:
        flows.append(("create-video/failed", D.video_requests(), lambda b: failing(provider, b)))
    for kind in provider.dm_more_creates:
        flows.append((f"create-{kind}", MORE_CREATES[kind], made(kind, f"create-{kind}")))
    if provider.dm_derived:
        for operation in DERIVED:
            flows.append((operation, DERIVE_BODIES[operation], _derive_run(provider, operation)))
    cap = provider.budget.left - stateful_reserve(provider.budget.left)
    plans = []
    for index, (name, strategy, run) in enumerate(flows):
        count = min(n, cap // len(flows) + (index < cap % len(flows)))
        if count:
            plans.append(Plan("billable", name, strategy, run, count, billable=True))
    return plans


def _derive_run(provider: Provider, operation: str) -> Any:
    def run(body: dict[str, Any]) -> None:
        done = provider.dm_completed
        if not done:  # nothing finished yet to work on: make one
            lifecycle(
                provider, "video", {"model": "ray-2", "prompt": "a quiet harbour"}, "create-video"
            )
        if provider.dm_completed:
            derive(provider, operation, provider.dm_completed[-1], body)

    return run
