"""What the provider suite does with this dialect's generations, for its phases
(`provider`) and its machine (`machine`): the cases of each call, a create and all that
follows from it (`lifecycle`), failing one through the control API, deleting one,
upscaling one or adding audio (`derive`), and the dialect's memory for a run (`Memory`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from hypothesis import strategies as st

from ..checks import Answer, Case
from ..provider.runner import Provider
from . import PACK
from . import strategies as D

PREFIX = PACK.path_prefix
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
DERIVE_TYPES = {"upscale": "upscale_video", "audio": "add_audio"}
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


@dataclass
class Memory:
    """The dialect's memory for one run: completed videos to upscale or add audio to,
    and what the target serves beyond video and image creates (`provider.prepare`)."""

    completed: list[str] = field(default_factory=list)
    derived: bool = False  # upscale and audio
    more_creates: list[str] = field(default_factory=list)  # reframe and modify


def memory(provider: Provider) -> Memory:
    return cast(Memory, provider.memory)


def request(operation: str, method: str, path: str, body: Any = None, **more: Any) -> Case:
    """A case of this dialect: ``path`` under its prefix."""
    return Case(operation, body, method=method, path=PREFIX + path, dialect=PACK.name, **more)


def get_case(generation_id: str, expect: int = 200) -> Case:
    path = f"/generations/{generation_id}"
    return request("get", "GET", path, label="get", expect_status=expect, task_id=generation_id)


def list_case(limit: int | None = None, offset: int | None = None) -> Case:
    query = "&".join(f"{k}={v}" for k, v in (("limit", limit), ("offset", offset)) if v is not None)
    path = "/generations" + (f"?{query}" if query else "")
    return request("list", "GET", path, label="list", expect_status=200)


def remember(provider: Provider, generation: Any) -> None:
    """A completed video is one to upscale or add audio to (an image is not)."""
    if not isinstance(generation, dict) or generation.get("state") != "completed":
        return
    done = memory(provider).completed
    kind_ok = generation.get("generation_type") != "image"
    if kind_ok and isinstance(generation.get("id"), str) and generation["id"] not in done:
        done.append(generation["id"])


def create(provider: Provider, kind: str, body: dict[str, Any], label: str) -> Case | None:
    """POST a create; its case, with the new generation's id, when one was made (201)."""
    if body.get("callback_url"):
        body = provider.unique_callback(body)
    case = request("create", "POST", CREATE_PATHS[kind], body, label=label)
    answer = provider.exchange(case)
    made = answer.json_or_none()
    if answer.status != 201 or not isinstance(made, dict) or not isinstance(made.get("id"), str):
        return None
    case.task_id = made["id"]
    return case


def lifecycle(provider: Provider, kind: str, body: dict[str, Any], label: str) -> None:
    """One billable create and what follows: its end, its callback, a get."""
    case = create(provider, kind, body, label)
    if case is None or case.task_id is None:
        return
    ended = provider.settle(case.task_id)
    if ended is None:
        return
    if case.body.get("callback_url"):  # it ended: the callback of its end is due
        provider.check_callback(case, "dm-callback-shape")
    provider.exchange(get_case(case.task_id))
    remember(provider, ended)


def failing(provider: Provider, body: dict[str, Any]) -> None:
    """A create failed through the control API: it must show failed with a reason."""
    case = create(provider, "video", body, "create-video/failed")
    if case is None or case.task_id is None:
        return
    provider.admin("POST", f"/tasks/{case.task_id}/fail", {"code": "api_error"})
    provider.settle(case.task_id)


def delete_flow(provider: Provider, body: dict[str, Any]) -> None:
    """Create, delete (204), then get, delete again (404) and list (not there)."""
    case = create(provider, "video", body, "create-video/delete")
    if case is not None and case.task_id is not None:
        delete(provider, case.task_id)


def delete(provider: Provider, generation_id: str) -> None:
    path = f"/generations/{generation_id}"
    gone = generation_id in provider.ctx.history.deleted
    case = request("delete", "DELETE", path, label="delete", task_id=generation_id,
                   expect_status=404 if gone else 204)  # fmt: skip
    if provider.exchange(case).status == 204:
        provider.exchange(get_case(generation_id, expect=404))
        provider.exchange(list_case(limit=100))
    done = memory(provider).completed
    if generation_id in done:
        done.remove(generation_id)


def derive(provider: Provider, operation: str, generation_id: str, body: dict[str, Any]) -> Answer:
    """Upscale or add audio to a generation (billable: it makes a new one). A live
    generation may be in no state for it (not completed, or at its highest resolution):
    a 409, which the checks allow."""
    gone = generation_id in provider.ctx.history.deleted
    case = request("derive", "POST", f"/generations/{generation_id}/{operation}", body,
                   label=operation, task_id=generation_id,
                   expect_status=404 if gone else None)  # fmt: skip
    answer = provider.exchange(case)
    made = answer.json_or_none()
    if answer.status == 200 and isinstance(made, dict) and isinstance(made.get("id"), str):
        provider.settle(made["id"])
    return answer
