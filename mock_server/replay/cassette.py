"""A reader of cassette files (version 1, /docs/record-and-replay.md), enough for replay.

Stand-in until `mock_server.cassettes.format` (the recorder's) is merged: the same
names (`read_cassette`, `decode_body`), so the swap is one import.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERSION = 1


@dataclass
class Cassette:
    header: dict[str, Any]
    events: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)


def read_cassette(path: str | Path) -> Cassette:
    """The header and events of the cassette at ``path``. A torn last line (a recording
    that was killed) is left out with a warning; any other unreadable line is an error."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    warnings: list[str] = []
    parsed: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as bad:
            if number == len(lines):
                warnings.append(f"truncated last line {number} (ignored)")
                break
            raise ValueError(f"{path}: line {number} is not JSON: {bad}") from None
        if not isinstance(value, dict):
            raise ValueError(f"{path}: line {number} is not a JSON object")
        parsed.append(value)
    if not parsed or parsed[0].get("type") != "cassette":
        raise ValueError(f"{path}: the first line is not a cassette header")
    header = parsed[0]
    if header.get("version") != VERSION:
        raise ValueError(f"{path}: cassette version {header.get('version')!r}, not {VERSION}")
    return Cassette(header, parsed[1:], warnings)


def decode_body(body: dict[str, Any] | None) -> bytes:
    """The bytes a stored BODY stands for (``{"json"|"text"|"base64": ...}``; None: empty)."""
    if body is None:
        return b""
    if "json" in body:
        return json.dumps(body["json"], ensure_ascii=False).encode("utf-8")
    if "text" in body:
        return str(body["text"]).encode("utf-8")
    if "base64" in body:
        return base64.b64decode(body["base64"])
    raise ValueError(f"a body with none of json, text, base64: {sorted(body)}")
