"""The Dream Machine media check: a completed generation's assets are what they say —
``assets.video`` an MP4, ``assets.image`` a JPEG or PNG as ``format`` asked (JPEG by
default) — and their picture has the ``aspect_ratio`` asked for (16:9 by default), each
URL fetched once a run (`CheckContext.media_size`; no fetch, no check). Pixel sizes per
resolution are the fake's choice, so only the ratio is the contract's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..checks import (
    SKIPPED,
    Answer,
    Case,
    CheckContext,
    check,
    fail,
    jpeg_size,
    mp4_size,
    png_size,
)
from .records import DM

RATIO_TOLERANCE = 0.06  # image sizes round to multiples of 16 (1552x656 for 21:9)
READERS: dict[str, Callable[[bytes], tuple[int, int]]] = {
    "mp4": mp4_size,
    "jpg": jpeg_size,
    "png": png_size,
}


def _completed(case: Case, answer: Answer) -> Iterator[dict[str, Any]]:
    body = answer.json_or_none() if 200 <= answer.status < 300 else None
    if not isinstance(body, dict):
        return
    found = body.get("generations") if case.operation == "list" else [body]
    for generation in found if isinstance(found, list) else []:
        if isinstance(generation, dict) and generation.get("state") == "completed":
            yield generation


def _ratio(text: Any) -> float | None:
    try:
        wide, high = (float(part) for part in str(text).split(":"))
        return wide / high
    except ValueError:
        return None


@check(
    "dm-media",
    "a completed generation's video is an MP4, its image a JPEG/PNG, of the ratio asked",
    ("create", "get", "list", "derive"),
    DM,
)
def dm_media(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    generations = list(_completed(case, answer)) if ctx.fetch is not None else []
    checked = False
    for generation in generations:
        asked = generation.get("request") if isinstance(generation.get("request"), dict) else {}
        assets = generation.get("assets") if isinstance(generation.get("assets"), dict) else {}
        # An upscale or audio result says nothing of its ratio: only what it is is checked.
        derived = asked.get("generation_type") not in (None, "video", "image")
        wanted = None if derived else _ratio(asked.get("aspect_ratio", "16:9"))
        for key, kind in (("video", "mp4"), ("image", asked.get("format", "jpg"))):
            url = assets.get(key)
            if not isinstance(url, str) or kind not in READERS:
                continue
            checked = True
            found = ctx.media_size(url, READERS[kind])
            if isinstance(found, str):
                fail(f"assets.{key} is not a {kind}", expected=f"a {kind} at {url}", actual=found)
            width, height = found  # type: ignore[misc]
            if wanted is not None and abs(width / height - wanted) > wanted * RATIO_TOLERANCE:
                fail(
                    f"assets.{key} is not of the aspect ratio asked for",
                    expected=asked.get("aspect_ratio", "16:9 (the default)"),
                    actual=f"{width}x{height} at {url}",
                )
    return None if checked else SKIPPED
