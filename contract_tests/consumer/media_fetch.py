"""The recording proxy's media: each media file a finished task shows is downloaded
once, within a size cap, into the cassette's media folder as ``<sha256>.<ext>``, and a
``media`` line says so (or why it was skipped).

Downloads run on one worker thread, so a client's answer is never held for a video;
`close` waits for the ones queued. No credential is sent: media URLs are links the
provider hands out, and the client's token has no business at a CDN.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import queue
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

DEFAULT_CAP = 200 * 1024 * 1024  # bytes per file
CHUNK = 1024 * 1024
Emit = Callable[[dict[str, Any]], None]


def _extension(url: str, content_type: str | None) -> str:
    suffix = Path(urlsplit(url).path).suffix.lstrip(".").lower()
    if suffix.isalnum() and 0 < len(suffix) <= 5:
        return suffix
    guessed = mimetypes.guess_extension((content_type or "").split(";", 1)[0].strip())
    return (guessed or ".bin").lstrip(".")


class MediaFetcher:
    """Downloads into ``folder``; ``emit`` writes each media line (its ``at`` is given
    by ``clock``, seconds since the recording started)."""

    def __init__(
        self,
        folder: Path,
        emit: Emit,
        clock: Callable[[], float],
        cap: int = DEFAULT_CAP,
        timeout: float = 60.0,
    ) -> None:
        if cap < 0:
            raise ValueError("the media cap must be 0 or more bytes")
        self.folder = folder
        self.cap = cap
        self.timeout = timeout
        self._emit = emit
        self._clock = clock
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, str | None, str, str] | None] = queue.Queue()
        self._session = requests.Session()
        self._worker = threading.Thread(target=self._work, name="luma-proxy-media", daemon=True)
        self._worker.start()

    def want(self, dialect: str, task: str | None, url: str, recorded_url: str) -> None:
        """Download ``url`` unless it was already; the line shows ``recorded_url`` (the
        URL as the recorded answers show it, redacted)."""
        with self._lock:
            if url in self._seen:
                return
            self._seen.add(url)
        self._queue.put((dialect, task, url, recorded_url))

    def close(self) -> None:
        """Finish what is queued, then stop."""
        self._queue.put(None)
        self._worker.join()
        self._session.close()

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            dialect, task, url, recorded_url = item
            line: dict[str, Any] = {
                "type": "media",
                "at": round(self._clock(), 6),
                "dialect": dialect,
                "task": task,
                "url": recorded_url,
            }
            try:
                line.update(self._download(url))
            except (requests.RequestException, OSError) as error:
                line.update(file=None, skipped=f"{type(error).__name__}: {error}")
            self._emit(line)

    def _download(self, url: str) -> dict[str, Any]:
        with self._session.get(url, stream=True, timeout=(10, self.timeout)) as answer:
            if answer.status_code != 200:
                return {"file": None, "skipped": f"HTTP {answer.status_code}"}
            over = {"file": None, "skipped": f"over the size cap of {self.cap} bytes"}
            declared = answer.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.cap:
                return over
            content_type = answer.headers.get("Content-Type")
            self.folder.mkdir(parents=True, exist_ok=True)
            digest, size = hashlib.sha256(), 0
            handle, partial = tempfile.mkstemp(dir=self.folder, suffix=".part")
            try:
                with os.fdopen(handle, "wb") as out:
                    for chunk in answer.iter_content(CHUNK):
                        size += len(chunk)
                        if size > self.cap:
                            return over
                        digest.update(chunk)
                        out.write(chunk)
                name = f"{digest.hexdigest()}.{_extension(url, content_type)}"
                os.replace(partial, self.folder / name)
            finally:
                if os.path.exists(partial):
                    os.unlink(partial)
        return {
            "file": name,
            "sha256": digest.hexdigest(),
            "size": size,
            "content_type": content_type,
        }
