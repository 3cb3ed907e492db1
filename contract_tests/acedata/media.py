"""The media check: every finished result's ``video_url`` and ``thumbnail_url`` serve an
MP4 and a JPEG of the stated size, each URL fetched once a run (`CheckContext.media_size`;
no fetch, no check) and read by `media_probe`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..checks import SKIPPED, Answer, Case, CheckContext, check, fail, jpeg_size, mp4_size
from .records import NAME, OPERATIONS, records_in


def _results_in(case: Case, answer: Answer) -> Iterator[dict[str, Any]]:
    body = answer.json_or_none()
    if answer.status != 200 or not isinstance(body, dict):
        return
    if case.operation == "videos" and body.get("success") is True:
        yield body
    for record in records_in(case, answer):
        response = record.get("response")
        if isinstance(response, dict) and response.get("success") is True:
            yield response


@check(
    "media-size",
    "video_url and thumbnail_url serve an MP4 and a JPEG of the stated size",
    OPERATIONS,
    (NAME,),
)
def media_size(ctx: CheckContext, case: Case, answer: Answer) -> bool | None:
    results = list(_results_in(case, answer)) if ctx.fetch is not None else []
    if not results:
        return SKIPPED
    for result in results:
        stated = (result.get("video_width"), result.get("video_height"))
        thumb = (result.get("thumbnail_width"), result.get("thumbnail_height"))
        for url_key, kind, size in (("video_url", "mp4", stated), ("thumbnail_url", "jpeg", thumb)):
            url = result.get(url_key)
            if not isinstance(url, str):
                continue
            found = ctx.media_size(url, mp4_size if kind == "mp4" else jpeg_size)
            if found != size:
                fail(
                    f"{url_key} does not serve a {kind} of the stated size",
                    expected=f"{size[0]}x{size[1]} {kind}",
                    actual=_size_text(found, url),
                )


def _size_text(found: tuple[int, int] | str, url: str) -> str:
    return f"{found[0]}x{found[1]} at {url}" if isinstance(found, tuple) else f"{found} at {url}"
