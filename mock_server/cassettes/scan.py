"""After writing: look in the cassette and its media folder for every secret the redactor
saw — raw, and base64 (standard and URL-safe, at each of the three byte alignments, so a
secret inside a larger base64 blob is found too). A hit is reported, never deleted: the
user decides what to do with a file that holds a secret (and fixes the rules).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .format import media_folder
from .redaction import MIN_SEARCHABLE


@dataclass(frozen=True)
class Hit:
    """One place a secret was found: the file, the line (cassettes) or None (media), the
    byte offset (in the line, or in the file), the secret's alias and how it was written."""

    file: Path
    line: int | None
    offset: int
    alias: str
    form: str  # raw, base64, base64url

    def __str__(self) -> str:
        where = f"line {self.line}, byte {self.offset}" if self.line else f"byte {self.offset}"
        return f"{self.file}: {where}: the secret aliased {self.alias} ({self.form})"


def base64_forms(secret: bytes) -> list[tuple[str, bytes]]:
    """What ``secret`` looks like inside base64 text, whatever its alignment in the
    encoded data: for each of the 3 offsets, the characters that depend on the secret's
    bits only (the partly shared first and last characters are left off)."""
    forms: list[tuple[str, bytes]] = []
    for lead in range(3):
        encoded = base64.b64encode(b"\0" * lead + secret)
        bits_before, bits_end = 8 * lead, 8 * (lead + len(secret))
        start, end = -(-bits_before // 6), bits_end // 6
        core = encoded[start:end]
        if len(core) < 4:
            continue  # too short to tell apart from chance
        forms.append(("base64", core))
        urlsafe = core.translate(bytes.maketrans(b"+/", b"-_"))
        if urlsafe != core:
            forms.append(("base64url", urlsafe))
    return forms


def needles(secrets: Mapping[str, str]) -> list[tuple[bytes, str, str]]:
    """(bytes to look for, alias, form) for every secret long enough to search for."""
    found = []
    for raw, alias in secrets.items():
        if len(raw) < MIN_SEARCHABLE:
            continue
        secret = raw.encode("utf-8")
        found.append((secret, alias, "raw"))
        found.extend((form_bytes, alias, form) for form, form_bytes in base64_forms(secret))
    return found


def _find_all(haystack: bytes, needle: bytes) -> Iterator[int]:
    at = haystack.find(needle)
    while at != -1:
        yield at
        at = haystack.find(needle, at + 1)


def scan(cassette: str | os.PathLike[str], secrets: Mapping[str, str]) -> list[Hit]:
    """Every place in the cassette and its media files where a secret shows; empty when
    none does. Files are read, never changed."""
    path = Path(cassette)
    wanted = needles(secrets)
    hits: list[Hit] = []
    if path.exists():
        with path.open("rb") as file:
            for number, line in enumerate(file, start=1):
                for needle, alias, form in wanted:
                    hits.extend(
                        Hit(path, number, at, alias, form) for at in _find_all(line, needle)
                    )
    folder = media_folder(path)
    if folder.is_dir():
        for media in sorted(folder.iterdir()):
            if not media.is_file():
                continue
            data = media.read_bytes()
            for needle, alias, form in wanted:
                hits.extend(Hit(media, None, at, alias, form) for at in _find_all(data, needle))
    return hits
