"""The cassette's lines (format version 1, docs/record-and-replay.md): bodies in and out,
a writer that appends and flushes line by line, and a reader that tolerates a torn end.

A crash must keep everything already paid for, so the writer never holds a line back and
never rewrites one; the only rewrite allowed is the header's counts at close, done by
writing a new file beside the old one and renaming it over (the events are copied as
they are).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

CASSETTE_VERSION = 1

# Content encodings the recorder can undo; it asks the target for these only.
DECODABLE_ENCODINGS = ("gzip", "deflate")


def media_folder(cassette: str | os.PathLike[str]) -> Path:
    """The folder the cassette's media files live in: `<cassette file name>.media/`."""
    path = Path(cassette)
    return path.with_name(path.name + ".media")


def decompress(raw: bytes, content_encoding: str | None) -> tuple[bytes, str | None]:
    """The body as the application sent it, and the encoding it was undone from (or None).

    Raises ValueError on an encoding we do not know or a body that does not decode: the
    recorder must not store compressed bytes as if they were the body."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return raw, None
    if encoding == "gzip" or encoding == "x-gzip":
        try:
            return zlib.decompress(raw, 16 + zlib.MAX_WBITS), "gzip"
        except zlib.error as exc:
            raise ValueError(f"the gzip body does not decode: {exc}") from exc
    if encoding == "deflate":
        # RFC 9110's deflate is zlib-wrapped; some servers send it raw: accept both.
        try:
            return zlib.decompress(raw), "deflate"
        except zlib.error:
            try:
                return zlib.decompress(raw, -zlib.MAX_WBITS), "deflate"
            except zlib.error as exc:
                raise ValueError(f"the deflate body does not decode: {exc}") from exc
    raise ValueError(f"content-encoding {content_encoding!r} is not one the recorder decodes")


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def encode_body(
    raw: bytes, content_type: str | None = None, content_encoding: str | None = None
) -> dict[str, Any] | None:
    """BODY for the cassette: None (empty), {"json": …}, {"text": …} or {"base64": …}.

    JSON when the content type allows it (JSON, `+json`, or none given) and the body
    parses; text when it is UTF-8 and not a media type; base64 otherwise, so binary
    survives exactly. A compressed body is stored decoded, with `decoded_from`."""
    body, decoded_from = decompress(raw, content_encoding)
    if not body:
        return None
    media_type = _media_type(content_type)
    json_allowed = media_type in ("", "application/json") or media_type.endswith("+json")
    binary_type = media_type.startswith(("video/", "image/", "audio/")) or media_type in (
        "application/octet-stream",
    )
    encoded: dict[str, Any] | None = None
    try:
        text: str | None = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and json_allowed:
        try:
            encoded = {"json": json.loads(text, parse_constant=_reject_constant)}
        except ValueError:
            encoded = None
    if encoded is None and text is not None and not binary_type:
        encoded = {"text": text}
    if encoded is None:
        encoded = {"base64": base64.b64encode(body).decode("ascii")}
    if decoded_from:
        encoded["decoded_from"] = decoded_from
    return encoded


def decode_body(body: Mapping[str, Any] | None) -> bytes:
    """The bytes a BODY stands for (uncompressed: replay sends bodies as they were
    decoded). JSON is serialised compactly; the text and base64 kinds are exact."""
    if body is None:
        return b""
    if "json" in body:
        return json.dumps(body["json"], ensure_ascii=False, separators=(",", ":")).encode()
    if "text" in body:
        return str(body["text"]).encode("utf-8")
    if "base64" in body:
        try:
            return base64.b64decode(body["base64"], validate=True)
        except binascii.Error as exc:
            raise ValueError(f"the base64 body does not decode: {exc}") from exc
    raise ValueError(f"a BODY needs one of json, text, base64; got keys {sorted(body)}")


def _now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _line(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


def header(target: str, tool: str, rules: str = "default") -> dict[str, Any]:
    """A fresh header line (line 1); the counts are final only after close."""
    return {
        "type": "cassette",
        "version": CASSETTE_VERSION,
        "tool": tool,
        "recorded_at": _now_rfc3339(),
        "target": target,
        "redaction": {"tokens": 0, "accounts": 0, "rules": rules},
    }


class CassetteWriter:
    """Appends events to a new cassette, one flushed line each, from any thread.

    `seq` is assigned here under the lock, so file order and `seq` order are the same
    thing even when callbacks and exchanges finish at once."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        target: str = "",
        tool: str = "luma-mock",
        rules: str = "default",
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.header = header(target, tool, rules)
        self._lock = threading.Lock()
        self._seq = 0
        self._file: TextIO | None = self.path.open("w", encoding="utf-8")
        self._write(self.header)

    @property
    def media(self) -> Path:
        return media_folder(self.path)

    @property
    def events_written(self) -> int:
        return self._seq

    def _write(self, obj: Mapping[str, Any]) -> None:
        assert self._file is not None
        self._file.write(_line(obj))
        self._file.flush()

    def append(self, event: Mapping[str, Any]) -> int:
        """Write one event (without `seq`: it is assigned here); returns its seq."""
        with self._lock:
            if self._file is None:
                raise ValueError(f"the cassette {self.path} is closed")
            seq = self._seq
            line = {"type": event["type"], "seq": seq}
            line.update((k, v) for k, v in event.items() if k not in ("type", "seq"))
            self._write(line)
            self._seq += 1
            return seq

    def close(self, redaction_counts: Mapping[str, int] | None = None) -> None:
        """Close the file; with counts, rewrite the header with them (events untouched)."""
        with self._lock:
            if self._file is None:
                return
            self._file.close()
            self._file = None
            if redaction_counts:
                self.header["redaction"].update(redaction_counts)
                self._rewrite_header()

    def _rewrite_header(self) -> None:
        lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        spare = self.path.with_name(self.path.name + ".closing")
        with spare.open("w", encoding="utf-8") as out:
            out.write(_line(self.header))
            out.writelines(lines[1:])
        os.replace(spare, self.path)

    def __enter__(self) -> CassetteWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Cassette:
    """A cassette as read: its header, its events in file order, and what was odd."""

    path: Path
    header: dict[str, Any] | None
    events: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # (line number, message) for each line that is not a JSON object, torn end included.
    broken: list[tuple[int, str]] = field(default_factory=list)

    @property
    def media(self) -> Path:
        return media_folder(self.path)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event.get("type") == kind]


def read_cassette(path: str | os.PathLike[str]) -> Cassette:
    """Read a cassette. A torn last line (a crash mid-write) is left out with a warning;
    any other line that is not a JSON object is left out and listed in `broken`."""
    path = Path(path)
    data = path.read_bytes()
    lines = data.split(b"\n")
    torn_tail = not data.endswith(b"\n") and data != b""
    if lines and lines[-1] == b"":
        lines.pop()
    cassette = Cassette(path=path, header=None)
    for number, raw in enumerate(lines, start=1):
        is_last = number == len(lines)
        try:
            obj = json.loads(raw.decode("utf-8"))
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            if is_last and torn_tail:
                cassette.warnings.append(f"truncated last line {number}")
            else:
                cassette.broken.append((number, f"line {number} is not a JSON object: {exc}"))
            continue
        if number == 1 and obj.get("type") == "cassette":
            cassette.header = obj
        else:
            cassette.events.append(obj)
    if cassette.header is None:
        cassette.warnings.append("no header on line 1")
    return cassette
