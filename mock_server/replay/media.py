"""The recorded media of a cassette, served by the replay itself: every media URL the
recording saw (in answers and callback bodies) is rewritten to the replay's own
``<base>/__cassette/media/<file>``, whose bytes are the recorded ones."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MEDIA_ROUTE = "/__cassette/media/"


@dataclass(frozen=True)
class MediaFile:
    path: Path
    content_type: str


class Media:
    """The media events of a cassette whose file was downloaded (``media_dir`` is the
    ``<cassette>.media/`` folder beside it)."""

    def __init__(self, events: Iterable[Mapping[str, Any]], media_dir: Path) -> None:
        self.urls: dict[str, str] = {}  # recorded URL -> file name
        self.files: dict[str, MediaFile] = {}
        for event in events:
            name = event.get("file")
            url = event.get("url")
            if not isinstance(name, str) or not isinstance(url, str) or "/" in name:
                continue  # skipped (over the cap, unreachable): its URL stays as recorded
            self.urls[url] = name
            kind = str(event.get("content_type") or "application/octet-stream")
            self.files[name] = MediaFile(media_dir / name, kind)

    def file(self, name: str) -> MediaFile | None:
        """The recorded file ``name`` (None if the cassette has none by that name, or it
        is gone from the folder)."""
        found = self.files.get(name)
        return found if found is not None and found.path.is_file() else None

    def rewrite(self, value: Any, base_url: str, also: Mapping[str, str] | None = None) -> Any:
        """``value`` (a JSON value) with each recorded media URL in its strings pointing
        at the replay at ``base_url``, and each string of ``also`` replaced by its value
        (the recording client's callback URL by the replaying one's)."""
        served = base_url.rstrip("/") + MEDIA_ROUTE
        swaps = {url: served + name for url, name in self.urls.items()}
        swaps.update(also or {})
        if not swaps:
            return value
        # Longest first: a URL that is a prefix of another must not eat its tail.
        return _swap(value, sorted(swaps.items(), key=lambda kv: len(kv[0]), reverse=True))


def _swap(value: Any, swaps: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for old, new in swaps:
            if old in value:
                value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_swap(item, swaps) for item in value]
    if isinstance(value, dict):
        return {key: _swap(item, swaps) for key, item in value.items()}
    return value
