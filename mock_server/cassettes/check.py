"""`luma-mock cassette check FILE`: every line against the JSON Schema of a line
(`cassette.schema.json`), then the rules across lines — the header first and once, `seq`
0, 1, 2… in file order, each media file present with its recorded sha256 and size, and
(a warning only) each poll, callback and media line about a task some earlier create
returned.

A torn last line (a crash mid-write) is a warning: everything before it is a cassette.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from .format import media_folder


@cache
def line_validator() -> Draft202012Validator:
    """The validator of one line, from the schema shipped in this package."""
    text = resources.files(__package__).joinpath("cassette.schema.json").read_text("utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _schema_problems(number: int, line: dict[str, Any]) -> list[str]:
    validator = line_validator()
    kind = line.get("type")
    # oneOf's own message ("is not valid under any of the given schemas") names nothing:
    # validate against the branch the line's type picks, to name the field at fault.
    branch = {"cassette": "header"}.get(kind, kind) if isinstance(kind, str) else None
    if branch in ("header", "exchange", "callback", "media"):
        sub = {**validator.schema["$defs"][branch], "$defs": validator.schema["$defs"]}
        errors = Draft202012Validator(sub).iter_errors(line)
    else:
        errors = validator.iter_errors(line)
    found = []
    for error in sorted(errors, key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(the line)"
        found.append(f"line {number}: {where}: {error.message}")
    if not found and branch is None:
        found.append(f"line {number}: unknown type {kind!r}")
    return found


def line_problems(number: int, line: dict[str, Any]) -> list[str]:
    """What is wrong with ``line`` (line ``number`` of a cassette) by the schema, each
    naming the field: what a replay refuses to start on."""
    return _schema_problems(number, line)


def _media_problems(number: int, line: dict[str, Any], folder: Path) -> list[str]:
    name = line.get("file")
    if not isinstance(name, str):
        return []
    path = folder / name
    if not path.is_file():
        return [f"line {number}: media file {name} is missing from {folder}"]
    data = path.read_bytes()
    problems = []
    if line.get("size") != len(data):
        problems.append(f"line {number}: {name} has {len(data)} bytes, not {line.get('size')}")
    digest = hashlib.sha256(data).hexdigest()
    if line.get("sha256") != digest:
        problems.append(f"line {number}: {name} has sha256 {digest}, not {line.get('sha256')}")
    return problems


def check_report(path: str | os.PathLike[str]) -> Report:
    """Problems (the cassette is not valid) and warnings (odd, but replayable)."""
    path = Path(path)
    report = Report()
    try:
        data = path.read_bytes()
    except OSError as bad:
        report.problems.append(f"{path}: cannot be read: {bad.strerror or bad}")
        return report
    lines = data.split(b"\n")
    torn = bool(data) and not data.endswith(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        report.problems.append("the cassette is empty: line 1 must be its header")
        return report
    folder = media_folder(path)
    next_seq: int | None = 0  # None after a broken line: whatever seq it had is lost
    created: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        try:
            line = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as bad:
            if number == len(lines) and torn:
                report.warnings.append(f"truncated last line {number}")
            else:
                report.problems.append(f"line {number}: not JSON: {bad}")
                next_seq = None
            continue
        if not isinstance(line, dict):
            report.problems.append(f"line {number}: not a JSON object")
            continue
        report.problems.extend(_schema_problems(number, line))
        kind = line.get("type")
        if kind == "cassette":
            if number != 1:
                report.problems.append(f"line {number}: a second header (only line 1 is one)")
            continue
        if number == 1:
            report.problems.append("line 1: the header must come first")
        seq = line.get("seq")
        if next_seq is not None and seq != next_seq:
            report.problems.append(f"line {number}: seq {seq!r} where {next_seq} was due")
        next_seq = seq + 1 if isinstance(seq, int) else next_seq
        task = line.get("task")
        if kind == "exchange" and line.get("role") == "create" and isinstance(task, str):
            created.add(task)
        elif (kind != "exchange" or line.get("role") == "poll") and task not in created:
            report.warnings.append(
                f"line {number}: task {task!r} was not returned by an earlier create"
            )
        if kind == "media":
            report.problems.extend(_media_problems(number, line, folder))
    return report


def check(path: str | os.PathLike[str]) -> list[str]:
    """The problems that make the cassette invalid (none: it is valid)."""
    return check_report(path).problems


def main(path: str) -> int:
    """``luma-mock cassette check FILE``: each problem and warning on a line; exit 1 on
    a problem."""
    report = check_report(path)
    for warning in report.warnings:
        print(f"warning: {warning}")
    for problem in report.problems:
        print(f"problem: {problem}")
    verdict = "valid" if report.ok else f"INVALID ({len(report.problems)} problem(s))"
    print(f"{path}: {verdict}, {len(report.warnings)} warning(s)")
    return 0 if report.ok else 1
