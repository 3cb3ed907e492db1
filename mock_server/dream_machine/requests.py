"""What this API's endpoints do with a valid call, with the engine's tasks: create a
video or an image generation (an image with ``sync`` is held until it ends or
``sync_timeout`` passes on the fake's clock), get, list and delete generations, and the
small read-only calls (concepts, camera motions, ping, credits)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from contract_tests.contract import Problem, Verdict, check, given

from ..engine.callbacks import TargetRefused
from ..engine.dialect import Call, EngineAPI
from ..engine.errors import ApiError
from ..engine.scenarios import Outcome
from ..engine.tasks import Task
from . import media

SCHEMAS = {
    "create_video": "dream-machine/video-request",
    "create_image": "dream-machine/image-request",
}
MIN_PROMPT, MAX_PROMPT = 3, 5000
DEFAULT_LIMIT = 100
UNLIMITED_BALANCE = 1_000_000  # decision: what /credits says of a token without a limit

# Decision: the fake's concepts, Luma's camera concepts as its app names them; the
# camera motions are the strings the removed /generations/camera_motion/list gave.
CONCEPTS = (
    "aerial", "aerial_drone", "bolt_cam", "crane_down", "crane_up", "dolly_zoom",
    "elevator_doors", "eye_level", "ground_level", "handheld", "high_angle", "low_angle",
    "orbit_left", "orbit_right", "over_the_shoulder", "overhead", "pan_left", "pan_right",
    "pedestal_down", "pedestal_up", "pov", "pull_out", "push_in", "roll_left",
    "roll_right", "selfie", "static", "tiny_planet", "truck_left", "truck_right",
    "zoom_in", "zoom_out",
)  # fmt: skip
CAMERA_MOTIONS = (
    "Static", "Move Left", "Move Right", "Move Up", "Move Down", "Push In", "Pull Out",
    "Zoom In", "Zoom Out", "Pan Left", "Pan Right", "Orbit Left", "Orbit Right",
    "Crane Up", "Crane Down",
)  # fmt: skip

_NO_BODY = Verdict("")  # the verdict on a call that has no body to judge


def check_request(endpoint: str, body: Any) -> tuple[Verdict, Any]:
    """A body's verdict: Luma's documented messages first (they are what its clients
    see), then the contract's; for a valid one, its given fields (null: not given)."""
    schema = SCHEMAS.get(endpoint)
    if schema is None:
        return _NO_BODY, None
    fields = given(body)
    documented = _documented_problem(endpoint, fields) if isinstance(fields, dict) else None
    if documented is None and endpoint == "create_video" and isinstance(fields, dict):
        documented = _unsupported(fields)  # said the fake's way, before the enum's
    if documented is not None:
        return Verdict(schema, (Problem("", documented),)), None
    verdict = check(schema, fields)
    return verdict, (fields if verdict.ok else None)


def _documented_problem(endpoint: str, fields: dict[str, Any]) -> str | None:
    """The validation messages of Luma's documents ("errors"), in their words."""
    prompt = fields.get("prompt")
    keyframes = fields.get("keyframes")
    if prompt is None and not (endpoint == "create_video" and keyframes):
        return "Prompt is required"  # a video from keyframes alone may go without
    problem = prompt_problem(prompt)
    if problem is not None:
        return problem
    if isinstance(keyframes, dict) and fields.get("loop") is True and "frame1" in keyframes:
        return "Loop is not supported for end frame"
    if isinstance(keyframes, dict) and not keyframes:
        return "No keyframes provided"
    return None


def prompt_problem(prompt: Any) -> str | None:
    """A given prompt's length, in the words of Luma's documents."""
    if isinstance(prompt, str) and len(prompt) < MIN_PROMPT:
        return f"Prompt is too short, minimum length is {MIN_PROMPT} characters"
    if isinstance(prompt, str) and len(prompt) > MAX_PROMPT:
        return f"Prompt is too long, maximum length is {MAX_PROMPT} characters"
    return None


def unsupported_resolution(resolution: Any) -> str | None:
    if isinstance(resolution, str) and resolution not in media.SHORT_SIDES:
        return f"Resolution {resolution} is not supported (540p, 720p, 1080p, 4k)"
    return None


def _unsupported(fields: Mapping[str, Any]) -> str | None:
    """The SDK types resolution and duration as any string; Luma (and the fake) makes
    only these (the schema's enums, said in words that name the value)."""
    problem = unsupported_resolution(fields.get("resolution", media.DEFAULT_RESOLUTION))
    if problem is not None:
        return problem
    duration = fields.get("duration", media.DURATIONS[0])
    if isinstance(duration, str) and duration not in media.DURATIONS:
        return f"Duration {duration} is not supported (5s, 9s)"
    return None


def serve(engine: EngineAPI, call: Call, outcome: Outcome | None) -> Any:
    """The endpoint's answer: a JSON object, or for the two lists a JSON array."""
    return _HANDLERS[call.endpoint](engine, call, outcome)


# -- creating -----------------------------------------------------------------------


def create_video(engine: EngineAPI, call: Call, outcome: Outcome | None) -> dict[str, Any]:
    fields = call.fields
    variant = media.video_variant(
        fields.get("aspect_ratio", media.DEFAULT_ASPECT_RATIO),
        fields.get("resolution", media.DEFAULT_RESOLUTION),
    )
    return engine.record(create_generation(engine, call, outcome, variant))


def create_image(engine: EngineAPI, call: Call, outcome: Outcome | None) -> dict[str, Any]:
    fields = call.fields
    variant = media.image_variant(
        fields.get("aspect_ratio", media.DEFAULT_ASPECT_RATIO),
        fields.get("format", media.DEFAULT_FORMAT),
    )
    task = create_generation(engine, call, outcome, variant)
    if fields.get("sync") is True:
        timeout = float(fields.get("sync_timeout", 60))
        try:
            engine.wait_result(task, timeout if math.isfinite(timeout) else math.inf)
        except ApiError:
            # Decision: a sync call past its timeout, or whose generation failed, answers
            # the Generation as it stands (queued, dreaming or failed), not an error.
            # Only a reset or a closing fake (the task is gone) is an error.
            if engine.own(task.id, call.token) is not task:
                raise
    return engine.record(task)


def create_generation(engine: EngineAPI, call: Call, outcome: Outcome | None, variant: str) -> Task:
    """A task for a valid create. With ``callback_url``, the Generation is POSTed there
    when it starts dreaming and when it completes or fails (this dialect's retry
    policy: `dialect.CALLBACK_RETRY`)."""
    callback_url = call.fields.get("callback_url")
    try:
        task = engine.create(
            request=call.body,
            token=call.token,
            base_url=call.base_url,
            action="generate",
            variant=variant,
            outcome=outcome,
            callback_url=callback_url,
        )
    except TargetRefused as refusal:
        raise ApiError("bad_request", f"callback_url: {refusal}") from None
    call.task_id = task.id
    if call.on_task is not None:
        call.on_task(task.id)
    if callback_url is not None:
        engine.callback_on_start(task)
    return task


# -- reading and deleting -----------------------------------------------------------------


def own(engine: EngineAPI, call: Call) -> Task:
    generation_id = (call.params or {}).get("id", "")
    call.task_id = generation_id
    task = engine.own(generation_id, call.token)
    if task is None:
        raise ApiError("not_found", "Generation not found")
    return task


def get(engine: EngineAPI, call: Call, outcome: Outcome | None) -> dict[str, Any]:
    return engine.record(own(engine, call))


def delete(engine: EngineAPI, call: Call, outcome: Outcome | None) -> dict[str, Any]:
    """204, and the generation is gone (a pending end finds it so and does nothing)."""
    engine.store.remove(own(engine, call).id)
    return {}


def list_generations(engine: EngineAPI, call: Call, outcome: Outcome | None) -> dict[str, Any]:
    """A page of the token's generations, newest first (decision: the documents leave the
    order open; newest first is what a dashboard shows). ``count`` is the number of the
    token's generations in all, so ``has_more`` says whether a later page has any."""
    params = call.params or {}
    limit = _non_negative(params, "limit", DEFAULT_LIMIT)
    offset = _non_negative(params, "offset", 0)
    mine = [task for task in engine.store if task.token == call.token]
    mine.reverse()
    page = mine[offset : offset + limit]
    return {
        "generations": [engine.record(task) for task in page],
        "count": len(mine),
        "has_more": offset + len(page) < len(mine),
        "limit": limit,
        "offset": offset,
    }


def _non_negative(params: Mapping[str, str], name: str, default: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not text.isdigit():
        raise ApiError("bad_request", f"{name} must be a non-negative integer, got {text!r}")
    return int(text)


def concepts(engine: EngineAPI, call: Call, outcome: Outcome | None) -> list[str]:
    return list(CONCEPTS)


def camera_motions(engine: EngineAPI, call: Call, outcome: Outcome | None) -> list[str]:
    return list(CAMERA_MOTIONS)


def ping(engine: EngineAPI, call: Call, outcome: Outcome | None) -> dict[str, Any]:
    return {"message": "pong"}


def credits(engine: EngineAPI, call: Call, outcome: Outcome | None) -> dict[str, Any]:
    balance = engine.accounts.balance(call.token)
    return {"credit_balance": UNLIMITED_BALANCE if balance is None else balance}


_HANDLERS: dict[str, Any] = {
    "create_video": create_video,
    "create_image": create_image,
    "get": get,
    "delete": delete,
    "list": list_generations,
    "concepts": concepts,
    "camera_motions": camera_motions,
    "ping": ping,
    "credits": credits,
}
ENDPOINTS = tuple(_HANDLERS)
