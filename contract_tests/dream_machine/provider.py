"""What the provider suite asks of the Dream Machine dialect (``verify --dialect
dream-machine``; `provider.ProviderDialect`): its phases, its state machine (`machine`),
how a generation is read, what could be billed. What it does with generations is in
`flows`.

Cheap plans: missing, malformed and wrong tokens; every create rule broken one at a
time; malformed bodies; unknown ids on get, delete, upscale and audio (404); list pages
at any limit and offset; ping and credits. Billable plans (every create, upscale and
audio counts): video and image creates brought to their end (clock or polling), with a
callback on loopback targets, failed through the control API where there is one, and a
delete that must be 204 then 404.

Upscale and audio (POST /generations/{id}/upscale|audio) are probed once with an unknown
id: a target that answers them in this dialect's shape (404 ``{"detail"}``, or 2xx) gets
their plans and machine rules; elsewhere they are skipped with a note. Reframe and modify
creates are probed with an empty body (`probe_more_creates`).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import strategies as st

from ..checks import Answer, Case
from ..provider.plans import Plan, shared_out
from ..provider.runner import Provider
from ..provider.targets import Transport
from . import strategies as D
from .flows import (
    CREATE_PATHS,
    DERIVE_BODIES,
    DERIVE_TYPES,
    DERIVED,
    MORE_CREATES,
    PREFIX,
    Memory,
    delete_flow,
    derive,
    failing,
    get_case,
    lifecycle,
    list_case,
    memory,
    request,
)
from .machine import DreamMachineRules

MACHINE = DreamMachineRules
read_case = get_case


def reach(transport: Transport) -> Answer:
    """``GET /ping``: any server of this API answers it, at no cost."""
    return transport.send("GET", PREFIX + "/ping", None, {}, 10.0)


def prepare(provider: Provider) -> None:
    provider.memory = Memory()
    memory(provider).derived = probe_derived(provider)
    memory(provider).more_creates = probe_more_creates(provider)


def could_bill(case: Case) -> bool:
    """Any invalid create: a lenient server could accept and bill it."""
    return True


def unknown_id() -> st.SearchStrategy[str]:
    return st.uuids(version=4).map(str)


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
        body = json.dumps({"generation_type": DERIVE_TYPES[operation]}).encode()
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


def cheap_plans(provider: Provider, n: int) -> list[Plan]:
    def auth(kind_where: tuple[str, str]) -> None:
        kind, where = kind_where
        if where == "create":
            if kind == "wrong":
                return  # a wrong token is probed on reads only: nothing to bill
            case = request("create", "POST", CREATE_PATHS["video"],
                           {"model": "ray-2", "prompt": "auth probe"})  # fmt: skip
        elif where == "get":
            case = get_case(str(uuid.UUID(int=1, version=4)))
        else:
            case = list_case()
        case.auth, case.label = kind, f"token-{kind}"
        provider.exchange(case)

    def invalid(item: Any) -> None:
        case = request("create", "POST", CREATE_PATHS[item.endpoint], item.body,
                       raw=item.raw, label=item.rule, valid=False)  # fmt: skip
        if not provider.skip_risky(case):
            provider.exchange(case)

    def unknown(item: tuple[str, str]) -> None:
        operation, generation_id = item
        if operation == "get":
            provider.exchange(get_case(generation_id, expect=404))
        elif operation == "delete":
            path = f"/generations/{generation_id}"
            provider.exchange(request("delete", "DELETE", path, label="unknown-id",
                                      task_id=generation_id, expect_status=404))  # fmt: skip
        else:
            path = f"/generations/{generation_id}/{operation}"
            body = {"generation_type": DERIVE_TYPES[operation]}
            provider.exchange(request("derive", "POST", path, body, label="unknown-id",
                                      task_id=generation_id, expect_status=404))  # fmt: skip

    def page(query: tuple[int | None, int | None]) -> None:
        provider.exchange(list_case(*query))

    def small(operation: str) -> None:
        provider.exchange(request(operation, "GET", f"/{operation}", label=operation))

    kinds = st.tuples(st.sampled_from(("missing", "malformed", "wrong")),
                      st.sampled_from(("create", "get", "list")))  # fmt: skip
    operations = ("get", "delete", *(DERIVED if memory(provider).derived else ()))
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


def billable_plans(provider: Provider, n: int, image_url: str | None = None) -> list[Plan]:
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
    for kind in memory(provider).more_creates:
        flows.append((f"create-{kind}", MORE_CREATES[kind], made(kind, f"create-{kind}")))
    if memory(provider).derived:
        for operation in DERIVED:
            flows.append((operation, DERIVE_BODIES[operation], _derive_run(provider, operation)))
    return shared_out(provider, flows, n)


def _derive_run(provider: Provider, operation: str) -> Any:
    def run(body: dict[str, Any]) -> None:
        done = memory(provider).completed
        if not done:  # nothing finished yet to work on: make one
            lifecycle(
                provider, "video", {"model": "ray-2", "prompt": "a quiet harbour"}, "create-video"
            )
        if done:
            derive(provider, operation, done[-1], body)

    return run
