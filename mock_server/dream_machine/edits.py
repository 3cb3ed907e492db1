"""The calls that make a generation from media that exist already: upscale and add
audio (of one of the token's completed videos, by id), reframe an image or a video and
modify a video (of media at a URL). Each makes a new generation that goes through the
states on the fake's clock like a create, with the same delays and callbacks.

Decisions (the documents are silent; README lists them): the source of an upscale or
an audio must be the token's own *completed* video generation — unknown or another
token's is 404, an image or one not completed yet is 409 (the request is valid: it
conflicts with the source's state, and the SDKs retry a 409, which suits a source still
dreaming; a 400 would also break Schemathesis's rule that a schema-valid request is
not refused with one). An upscale goes up: to the
``resolution`` asked, which must be above the source's, by default the next one up. The
results are ``video`` generations (``image`` for a reframed image), with the source's
model. A reframe or modify whose ``media.url`` is one of the fake's own media URLs
keeps that generation's resolution (and, for modify, its aspect ratio); any other URL
is read as a 720p 16:9 video.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contract_tests.contract import Problem, Verdict, check, given

from ..engine.dialect import Call, EngineAPI
from ..engine.errors import ApiError
from ..engine.scenarios import Outcome
from ..engine.tasks import Task, TaskState
from . import media
from .requests import create_generation, own, prompt_problem, unsupported_resolution

SCHEMAS = {
    "upscale": "dream-machine/upscale-request",
    "audio": "dream-machine/audio-request",
    "reframe_image": "dream-machine/reframe-image-request",
    "reframe_video": "dream-machine/reframe-video-request",
    "modify_video": "dream-machine/modify-video-request",
}
RESOLUTIONS = tuple(media.SHORT_SIDES)  # lowest first


def check_request(endpoint: str, body: Any) -> tuple[Verdict, Any]:
    """Like `requests.check_request`: Luma's documented prompt messages first, and a
    resolution the fake cannot make in its words, then the contract's."""
    schema = SCHEMAS[endpoint]
    fields = given(body)
    if isinstance(fields, dict):
        documented = prompt_problem(fields.get("prompt"))
        if documented is None:
            unsupported = unsupported_resolution(fields.get("resolution"))
            documented = None if unsupported is None else f"resolution: {unsupported}"
        if documented is not None:
            return Verdict(schema, (Problem("", documented),)), None
    verdict = check(schema, fields)
    return verdict, (fields if verdict.ok else None)


# -- from one of the token's generations ----------------------------------------------


def _completed_video(engine: EngineAPI, call: Call, verb: str) -> Task:
    source = own(engine, call)
    call.task_id = None  # the call's task is the one it makes
    if media.generation_type(source.variant) != "video":
        raise ApiError("conflict", f"Generation {source.id} is an image: only a video can {verb}")
    if source.state is not TaskState.COMPLETED:
        state = "failed" if source.state is TaskState.FAILED else "not completed"
        raise ApiError("conflict", f"Generation {source.id} is {state}: it cannot {verb} yet")
    return source


def upscale(engine: EngineAPI, call: Call, outcome: Outcome | None) -> dict[str, Any]:
    source = _completed_video(engine, call, "be upscaled")
    made, ratio, resolution = media.parse_variant(source.variant)
    above = RESOLUTIONS[RESOLUTIONS.index(resolution) + 1 :]
    wanted = call.fields.get("resolution") or (above[0] if above else None)
    if wanted is None or wanted not in above:
        raise ApiError(
            "conflict",
            f"resolution: {wanted or resolution} is not above the generation's {resolution}",
        )
    model = source.request.get("model") or media.variant_model(source.variant)
    variant = media.video_variant(ratio, wanted, sound=made == "audio", model=model)
    return engine.record(create_generation(engine, call, outcome, variant))


def audio(engine: EngineAPI, call: Call, outcome: Outcome | None) -> dict[str, Any]:
    source = _completed_video(engine, call, "have audio added")
    _, ratio, resolution = media.parse_variant(source.variant)
    model = source.request.get("model") or media.variant_model(source.variant)
    variant = media.video_variant(ratio, resolution, sound=True, model=model)
    return engine.record(create_generation(engine, call, outcome, variant))


# -- from media at a URL ----------------------------------------------------------------


def _source_video(engine: EngineAPI, fields: Mapping[str, Any]) -> tuple[str, str, bool]:
    """(aspect ratio, resolution, with sound) of the video at ``media.url``: one of the
    fake's own completed videos, else the defaults."""
    task_id = media.task_of_url(fields["media"]["url"])
    source = engine.store.get(task_id) if task_id is not None else None
    if source is not None and source.state is TaskState.COMPLETED:
        made, ratio, detail = media.parse_variant(source.variant)
        if made != "image":
            return ratio, detail, made == "audio"
    return media.DEFAULT_ASPECT_RATIO, media.DEFAULT_RESOLUTION, False


def reframe_image(engine: EngineAPI, call: Call, outcome: Outcome | None) -> dict[str, Any]:
    fields = call.fields
    variant = media.image_variant(
        fields["aspect_ratio"], fields.get("format", media.DEFAULT_FORMAT)
    )
    return engine.record(create_generation(engine, call, outcome, variant))


def reframe_video(engine: EngineAPI, call: Call, outcome: Outcome | None) -> dict[str, Any]:
    _, resolution, sound = _source_video(engine, call.fields)
    variant = media.video_variant(call.fields["aspect_ratio"], resolution, sound=sound)
    return engine.record(create_generation(engine, call, outcome, variant))


def modify_video(engine: EngineAPI, call: Call, outcome: Outcome | None) -> dict[str, Any]:
    ratio, resolution, sound = _source_video(engine, call.fields)
    variant = media.video_variant(ratio, resolution, sound=sound)
    return engine.record(create_generation(engine, call, outcome, variant))


HANDLERS: dict[str, Any] = {
    "upscale": upscale,
    "audio": audio,
    "reframe_image": reframe_image,
    "reframe_video": reframe_video,
    "modify_video": modify_video,
}
