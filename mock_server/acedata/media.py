"""The sample media the fake hands out: one real, playable MP4 and JPEG per video size,
shipped in ``fixtures/media`` (made by ``fixtures/media/generate.sh``)."""

from __future__ import annotations

import re
from pathlib import Path

from contract_tests.contract import media_dir

DEFAULT_ASPECT_RATIO = "16:9"

# Sizes the provider was seen to return (16:9, 21:9) and our decisions for the rest.
SIZES: dict[str, tuple[int, int]] = {
    "16:9": (1360, 752),
    "9:16": (752, 1360),
    "21:9": (1552, 656),
    "9:21": (656, 1552),
    "1:1": (1024, 1024),
    "4:3": (1168, 864),
    "3:4": (864, 1168),
}

KINDS = {"mp4": "video/mp4", "jpg": "image/jpeg"}

_MEDIA_NAME = re.compile(r"/luma/(?P<task_id>[^/?#]+)\.(?P<kind>mp4|jpg)(?:[?#].*)?$")


def size_for(aspect_ratio: str) -> tuple[int, int]:
    return SIZES[aspect_ratio]


def media_file(aspect_ratio: str, kind: str) -> Path:
    width, height = SIZES[aspect_ratio]
    return media_dir("acedata") / f"{width}x{height}.{kind}"


def media_url(public_url: str, task_id: str, kind: str) -> str:
    return f"{public_url.rstrip('/')}/luma/{task_id}.{kind}"


def task_id_from_url(url: str) -> str | None:
    """The task id in a media URL of the fake's shape (``…/luma/<task_id>.mp4``)."""
    match = _MEDIA_NAME.search(url)
    return match.group("task_id") if match else None
