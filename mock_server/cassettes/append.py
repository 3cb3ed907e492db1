"""One cassette's events appended to another: the ``new`` record mode's last step.

In ``new`` mode what the cassette has is replayed and what it has not is recorded, into a
cassette of its own (a recorder writes a whole file, header first); at the end its
events go onto the end of the played cassette. Nothing already there is rewritten: the
lines are appended, their ``seq`` continuing the file's and their ``at`` counted from
the played cassette's last moment, so the file stays one recording in order; the media
files are copied into the played cassette's folder (named by their hash, so a file both
have is the same file).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from .format import media_folder, read_cassette


def append_cassette(into: str | os.PathLike[str], source: str | os.PathLike[str]) -> int:
    """Append ``source``'s events to ``into``; returns how many. ValueError when either
    has a line that is not JSON, or ``into`` ends torn (a crash mid-line: mend it first,
    appending would glue a line to the torn one)."""
    into, source = Path(into), Path(source)
    base, extra = read_cassette(into), read_cassette(source)
    for cassette in (base, extra):
        if cassette.header is None or cassette.broken:
            problems = [m for _, m in cassette.broken] or ["no header"]
            raise ValueError(f"{cassette.path}: {'; '.join(problems)}")
    if base.warnings:  # a torn last line
        raise ValueError(f"{into}: {'; '.join(base.warnings)}")
    seq = max((int(e.get("seq", -1)) for e in base.events), default=-1) + 1
    shift = max((float(e.get("at", 0.0)) for e in base.events), default=0.0)
    with into.open("a", encoding="utf-8") as out:
        for number, event in enumerate(extra.events):
            line = {**event, "seq": seq + number, "at": round(float(event.get("at", 0)) + shift, 6)}
            out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    media = media_folder(source)
    if media.is_dir():
        kept = media_folder(into)
        kept.mkdir(exist_ok=True)
        for file in media.iterdir():
            if not (kept / file.name).exists():
                shutil.copy2(file, kept / file.name)
    return len(extra.events)
