"""Hypothesis strategies for the Dream Machine API's create bodies, valid and invalid.

The choices come from ``schemas/dream-machine/`` (models, aspect ratios, formats are
read off the bundled schemas, so a schema change moves the data with it) and from
Luma's documented rules the schemas cannot say: a prompt of 3 to 5000 characters,
required unless a video has keyframes; ``loop`` not with an end frame; keyframes not
empty. The fake makes only the resolutions and durations it has media for, so valid
bodies keep to those (`RESOLUTIONS`, `DURATIONS`).

    video_requests()           # POST /generations/video bodies the contract accepts
    image_requests()           # POST /generations/image bodies
    invalid_dm_requests()      # `Invalid` bodies, each breaking one rule ("video", "image")
"""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import strategies as st

from ..contract.invalid import Invalid
from ..contract.schema import bundled

MIN_PROMPT, MAX_PROMPT = 3, 5000
RESOLUTIONS = ("540p", "720p", "1080p", "4k")
DURATIONS = ("5s", "9s")
URL = st.sampled_from(
    (
        "https://images.example.test/frame.jpg",
        "https://cdn.example.org/start.png",
        "https://example.com/luma/end.jpg",
    )
)


@cache
def _enum(schema: str, *path: str) -> tuple[Any, ...]:
    node: Any = bundled(f"dream-machine/{schema}")["properties"]
    for key in path:
        node = node[key]
    return tuple(node["enum"])


def video_models() -> tuple[str, ...]:
    return _enum("video-request", "model")


def image_models() -> tuple[str, ...]:
    return _enum("image-request", "model")


def aspect_ratios() -> tuple[str, ...]:
    return _enum("video-request", "aspect_ratio")


def prompts() -> st.SearchStrategy[str]:
    """Prompts of the documented length, printable, never blank."""
    words = st.text(st.characters(codec="utf-8", categories=("L", "N")), min_size=1, max_size=12)
    return (
        st.lists(words, min_size=1, max_size=8)
        .map(" ".join)
        .map(lambda p: p if len(p) >= MIN_PROMPT else (p + " scene")[:MAX_PROMPT])
    )


def _optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


def keyframes(generation_ids: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Any]:
    image = st.builds(lambda url: {"type": "image", "url": url}, URL)
    frame = (
        image
        if generation_ids is None
        else image | st.builds(lambda i: {"type": "generation", "id": i}, generation_ids)
    )
    return st.fixed_dictionaries({}, optional={"frame0": frame, "frame1": frame}).filter(bool)


def video_requests(
    callback_url: str | None = None, generation_ids: st.SearchStrategy[str] | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies of POST /generations/video that the contract accepts."""
    base = st.fixed_dictionaries(
        {"model": st.sampled_from(video_models())},
        optional={
            "prompt": prompts(),
            "aspect_ratio": st.sampled_from(aspect_ratios()),
            "resolution": st.sampled_from(RESOLUTIONS),
            "duration": st.sampled_from(DURATIONS),
            "loop": st.booleans(),
            "keyframes": keyframes(generation_ids),
            "concepts": st.lists(
                st.builds(lambda k: {"key": k}, st.sampled_from(("dolly_zoom", "orbit_left"))),
                max_size=2,
            ),
        },
    )

    def documented(body: dict[str, Any]) -> dict[str, Any]:
        if "prompt" not in body and not body.get("keyframes"):
            body = {**body, "prompt": "a lighthouse at dusk"}
        if body.get("loop") is True and "frame1" in body.get("keyframes", {}):
            body = {**body, "loop": False}
        return {**body, "callback_url": callback_url} if callback_url else body

    return base.map(documented)


def image_requests(callback_url: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies of POST /generations/image that the contract accepts (never ``sync``: a
    held call is a case of its own)."""
    body = st.fixed_dictionaries(
        {"model": st.sampled_from(image_models()), "prompt": prompts()},
        optional={
            "aspect_ratio": st.sampled_from(aspect_ratios()),
            "format": st.sampled_from(_enum("image-request", "format")),
            "image_ref": st.lists(
                st.fixed_dictionaries({"url": URL}, optional={"weight": st.floats(0, 1)}),
                max_size=2,
            ),
        },
    )
    return body.map(lambda b: {**b, "callback_url": callback_url} if callback_url else b)


# -- bodies that break one rule --------------------------------------------------------


def _breaking(endpoint: str, rule: str, expect: str, change: Any) -> st.SearchStrategy[Invalid]:
    valid = video_requests() if endpoint == "video" else image_requests()
    return valid.map(lambda body: Invalid(endpoint, rule, change(dict(body)), expect=expect))


def _set(**fields: Any) -> Any:
    return lambda body: {**body, **fields}


def _without(*names: str) -> Any:
    return lambda body: {k: v for k, v in body.items() if k not in names}


DM_RULES: dict[str, tuple[str, str, Any]] = {
    # rule: (endpoint, words of the expected detail, how the body is broken)
    "video-model-missing": ("video", "model", _without("model")),
    "video-model-unknown": ("video", "model", _set(model="ray-0")),
    "video-prompt-missing": ("video", "Prompt is required", _without("prompt", "keyframes")),
    "video-prompt-short": ("video", "too short", _set(prompt="ab")),
    "video-prompt-long": ("video", "too long", _set(prompt="x" * (MAX_PROMPT + 1))),
    "video-prompt-not-string": ("video", "prompt", _set(prompt=12345)),
    "video-aspect-ratio-unknown": ("video", "aspect_ratio", _set(aspect_ratio="5:4")),
    "video-loop-not-boolean": ("video", "loop", _set(loop="yes")),
    "video-loop-with-end-frame": (
        "video",
        "Loop is not supported for end frame",
        _set(
            loop=True, keyframes={"frame1": {"type": "image", "url": "https://example.com/a.jpg"}}
        ),
    ),
    "video-keyframe-type-unknown": (
        "video",
        "keyframes",
        _set(keyframes={"frame0": {"type": "video", "url": "https://example.com/a.mp4"}}),
    ),
    "video-callback-url-not-url": ("video", "callback_url", _set(callback_url="not a url")),
    "image-model-missing": ("image", "model", _without("model")),
    "image-model-video": ("image", "model", _set(model="ray-2")),
    "image-prompt-short": ("image", "too short", _set(prompt="x")),
    "image-format-unknown": ("image", "format", _set(format="gif")),
    "image-sync-timeout-not-positive": ("image", "sync_timeout", _set(sync=True, sync_timeout=0)),
}


def dm_breaking(rule: str) -> st.SearchStrategy[Invalid]:
    endpoint, expect, change = DM_RULES[rule]
    return _breaking(endpoint, rule, expect, change)


def invalid_dm_requests(endpoint: str | None = None) -> st.SearchStrategy[Invalid]:
    """Create bodies that each break one rule of the contract or of Luma's documents."""
    chosen = [r for r, (e, _, _) in DM_RULES.items() if endpoint in (None, e)]
    return st.one_of([dm_breaking(r) for r in chosen])


def malformed_dm_bodies() -> st.SearchStrategy[Invalid]:
    """A create body that is not a JSON object."""
    return st.sampled_from(
        (
            Invalid("video", "body-not-json", raw=b"{model: ray-2"),
            Invalid("video", "body-not-object", raw=b'["ray-2"]'),
            Invalid("image", "body-not-utf8", raw=b'{"prompt": "\xff\xfe"}'),
        )
    )


# -- reframe and modify (Luma's documents; no schema in schemas/dream-machine yet) -------------

MODIFY_MODES = tuple(f"{kind}_{n}" for kind in ("adhere", "flex", "reimagine") for n in (1, 2, 3))
MEDIA = st.builds(lambda url: {"url": url}, URL)


def reframe_image_requests() -> st.SearchStrategy[dict[str, Any]]:
    """Bodies of POST /generations/image/reframe, as Luma documents them."""
    return st.fixed_dictionaries(
        {
            "generation_type": st.just("reframe_image"),
            "aspect_ratio": st.sampled_from(aspect_ratios()),
            "media": MEDIA,
            "model": st.sampled_from(image_models()),
        },
        optional={"prompt": prompts(), "format": st.sampled_from(("jpg", "png"))},
    )


def reframe_video_requests() -> st.SearchStrategy[dict[str, Any]]:
    """Bodies of POST /generations/video/reframe."""
    return st.fixed_dictionaries(
        {
            "generation_type": st.just("reframe_video"),
            "aspect_ratio": st.sampled_from(aspect_ratios()),
            "media": MEDIA,
            "model": st.sampled_from(video_models()),
        },
        optional={"prompt": prompts(), "first_frame": MEDIA},
    )


def modify_video_requests() -> st.SearchStrategy[dict[str, Any]]:
    """Bodies of POST /generations/video/modify."""
    return st.fixed_dictionaries(
        {
            "generation_type": st.just("modify_video"),
            "media": MEDIA,
            "model": st.sampled_from(video_models()),
            "mode": st.sampled_from(MODIFY_MODES),
        },
        optional={"prompt": prompts(), "first_frame": MEDIA},
    )
