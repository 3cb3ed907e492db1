"""What the provider suite asks of the AceDataCloud dialect (`provider.ProviderDialect`):
its phases, its state machine (`machine`), how a task is read, what could be billed.

Cheap plans: missing, malformed and wrong tokens; every contract rule of
``/luma/videos`` and ``/luma/tasks`` broken one at a time; malformed bodies; unknown
ids. Billable plans spread the budget over every request shape in every mode
(`SHAPES`), each POST followed to its end (`flows.video`).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from ..checks import Answer, Case
from ..checks.gateway import CHALLENGE, POLL
from ..provider.gateway import gateway_plans
from ..provider.plans import Plan, shared_out
from ..provider.runner import Provider
from ..provider.targets import Transport
from . import strategies as S
from .flows import Memory, memory, retrieve_case, video
from .machine import LumaMachine
from .records import action, luma_case

MACHINE = LumaMachine
read_case = retrieve_case


def reach(transport: Transport) -> Answer:
    """An empty ``POST /luma/tasks``: any server of this API refuses it, at no cost."""
    return transport.send("POST", "/luma/tasks", b"{}", {}, 10.0)


def prepare(provider: Provider) -> None:
    provider.memory = Memory()


def could_bill(case: Case) -> bool:
    """An invalid /luma/videos body with a usable prompt: a lenient server could accept
    and bill it."""
    body = case.body if isinstance(case.body, dict) else {}
    return S.is_valid_field("videos", "prompt", body.get("prompt"))


def _invalid_case(invalid: S.Invalid) -> Case:
    return luma_case(invalid.endpoint, invalid.body, raw=invalid.raw, label=invalid.rule,
                     valid=False)  # fmt: skip


def cheap_plans(provider: Provider, n: int) -> list[Plan]:
    def auth(kind_endpoint: tuple[str, str]) -> None:
        kind, endpoint = kind_endpoint
        body = {"prompt": "auth probe", "async": True} if endpoint == "videos" else {
            "action": "retrieve", "id": "auth-probe"}  # fmt: skip
        if kind == "wrong" and endpoint == "videos":
            return  # a wrong token is probed on /luma/tasks only: nothing to bill
        if provider.x402 is not None and (endpoint == "videos" or kind == "missing"):
            return  # a gateway asks to be paid, and polls free (the x402 plan's business)
        provider.exchange(luma_case(endpoint, body, auth=kind, label=f"token-{kind}"))

    def invalid(item: S.Invalid) -> None:
        case = _invalid_case(item)
        if not provider.skip_risky(case):
            provider.exchange(case)

    def unknown(body: dict[str, Any]) -> None:
        case = luma_case("tasks", body, label="unknown-id")
        case.expect_status = 404 if action(case) == "retrieve" else 200
        provider.exchange(case)

    unknown_ids = S.identifiers().map(lambda i: f"luma-mock-verify-unknown-{i}")
    auth_kinds = st.tuples(st.sampled_from(("missing", "malformed", "wrong")),
                           st.sampled_from(("videos", "tasks")))  # fmt: skip
    gateway = gateway_plans(provider, _unpaid, [_poll], _task_of) if provider.x402 else []
    return [
        *gateway,
        Plan("auth", "auth", auth_kinds, auth, 6),
        Plan("invalid", "invalid videos", S.invalid_video_requests(), invalid, n),
        Plan("invalid", "invalid tasks", S.invalid_task_requests(), invalid, max(1, n // 2)),
        Plan("invalid", "malformed", S.malformed_bodies(), invalid, max(1, n // 4)),
        Plan("invalid", "unknown ids", S.task_requests(unknown_ids), unknown, max(1, n // 4)),
    ]


# -- a pay-per-call gateway (verify --x402) ---------------------------------------------


def _unpaid() -> Case:
    """A paid call (an async generate) with neither a token nor a payment."""
    body = {"prompt": "x402 probe: a paper boat on a pond", "async": True}
    return luma_case(CHALLENGE, body, path="/luma/videos", auth="missing", label="x402-unpaid")


def _poll(task_id: str | None) -> Case:
    """Reading a task (an unknown one without an id) without a token: free."""
    wanted = task_id or "luma-mock-verify-unknown-x402"
    label = "x402-poll" if task_id else "x402-poll-unknown"
    body = {"action": "retrieve", "id": wanted}
    return luma_case(POLL, body, path="/luma/tasks", auth="missing", label=label)


def _task_of(body: Any) -> str | None:
    task_id = body.get("task_id") if isinstance(body, dict) else None
    return str(task_id) if task_id else None


# Every shape in every mode; the order is the order of value when the budget is small.
SHAPES: tuple[tuple[str, str, str], ...] = (
    ("generate", "none", "sync"), ("generate", "none", "async"),
    ("extend", "id", "async"), ("generate", "first", "callback"),
    ("generate", "last", "sync"), ("extend", "url", "sync"),
    ("generate", "both", "async"), ("extend", "id", "callback"),
    ("generate", "none", "callback"), ("generate", "first", "async"),
    ("generate", "last", "callback"), ("generate", "both", "sync"),
    ("extend", "id", "sync"), ("extend", "url", "async"),
    ("generate", "first", "sync"), ("generate", "last", "async"),
    ("generate", "both", "callback"), ("extend", "url", "callback"),
)  # fmt: skip


def billable_plans(provider: Provider, n: int, image_url: str | None = None) -> list[Plan]:
    shapes = [s for s in SHAPES if s[2] != "callback" or provider.target.callbacks]
    if provider.control is not None and provider.manual_clock and provider.instant_rule is None:
        shapes = [s for s in shapes if s[2] != "sync"]  # they would wait for ever
        provider.notes.append("sync calls skipped: manual clock and no scenario rule")
    if len(shapes) < len(SHAPES):
        provider.notes.append(f"{len(SHAPES) - len(shapes)} shape/mode pairs not reachable here")
    flows = []
    for shape, variant, mode in shapes:
        label = f"{shape}-{variant}/{mode}"
        strategy = _shape_strategy(provider, shape, variant, mode, image_url)
        flows.append((label, strategy, _billable_run(provider, label)))
    return shared_out(provider, flows, n)


def _shape_strategy(
    provider: Provider, action: str, variant: str, mode: Any, image_url: str | None
) -> st.SearchStrategy[dict[str, Any]]:
    receiver = provider.receiver.url if mode == "callback" else None
    if action == "generate":
        strategy = S.generate_requests(frames=variant, mode=mode, callback_url=receiver)  # type: ignore[arg-type]
        if image_url is not None:  # the real service fetches frames: give it a real image
            frames = ("start_image_url", "end_image_url")
            strategy = strategy.map(lambda b: {k: image_url if k in frames else v
                                               for k, v in b.items()})  # fmt: skip
        return strategy

    # extensions of videos made earlier in the run, drawn when the example runs
    def made(part: int, none: str) -> st.SearchStrategy[str]:
        pool = memory(provider).videos  # read when the example is drawn, not when planned
        return st.integers(0, 10**6).map(lambda k: pool[k % len(pool)][part] if pool else none)

    ids, urls = made(0, "none-yet"), made(1, "none")
    return S.extend_requests(by=variant, mode=mode, callback_url=receiver,  # type: ignore[arg-type]
                             video_ids=ids, video_urls=urls)  # fmt: skip


def _billable_run(provider: Provider, label: str) -> Any:
    def run(body: dict[str, Any]) -> None:
        if body.get("video_id") == "none-yet" or body.get("video_url") == "none":
            return  # nothing to extend yet
        video(provider, body, label)

    return run
