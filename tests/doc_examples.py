"""The code examples of the README and the docs, read as a reader meets them.

A fenced block in ``python``, ``sh``/``bash`` or ``console`` is an example that runs. A
comment on the line just before its fence says otherwise, or more:

- ``<!-- example: no-run REASON -->`` — shown, never run (an install command, the two
  ``dev.py`` commands, a server that runs until stopped, a call to the real service);
  the reason is required, so the exceptions stay few and explained;
- ``<!-- example: file NAME -->`` — not run itself: written as ``NAME`` into the
  directory the page's examples run in (an adapter module that a command then loads);
- ``<!-- example: continues -->`` — a Python block run after the page's previous one,
  as one program (a fragment that goes on from the block above it);
- ``<!-- example: output -->`` before a ``text`` block — what the previous example
  prints: each of its lines must come out, in order (``…`` in a line matches anything).

A Python block that defines ``test_`` functions is a test module: it runs under pytest
with the plugin, as in the reader's project.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_LANGUAGES = {"python": "python", "py": "python", "sh": "shell", "bash": "shell"}
RUN_LANGUAGES["console"] = "shell"
DIRECTIVE = re.compile(r"<!--\s*example:\s*(?P<kind>[\w-]+)\s*(?P<arg>.*?)\s*-->")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,})(?P<info>[^`\n]*)$")


@dataclass
class Block:
    page: str
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    directive: str = ""
    argument: str = ""
    expected: list[str] = field(default_factory=list)
    before: list[Block] = field(default_factory=list)  # what a `continues` block follows

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def kind(self) -> str:
        """python, pytest or shell; "" for a block that does not run."""
        runs = RUN_LANGUAGES.get(self.language, "")
        if not runs or self.directive in ("no-run", "file", "output"):
            return ""
        if runs == "python" and re.search(r"^(async )?def test_", self.code, re.M):
            return "pytest"
        return runs


def blocks_of(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    page = str(path.relative_to(ROOT))
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        language = (opening["info"].strip().split() or [""])[0].lstrip(".").lower()
        body: list[str] = []
        end = index + 1
        while end < len(lines) and lines[end].strip() != fence:
            body.append(lines[end][indent:])
            end += 1
        previous = lines[index - 1] if index > 0 else ""
        directive = DIRECTIVE.search(previous)
        block = Block(page, index + 1, language, "\n".join(body) + "\n")
        if directive:
            block.directive, block.argument = directive["kind"], directive["arg"]
            if block.directive == "no-run" and not block.argument:
                raise ValueError(f"{block.name}: no-run needs a reason")
        found.append(block)
        index = end + 1
    _link(found)
    return found


def _link(blocks: list[Block]) -> None:
    """Attach each output block to the example before it, each fragment to the Python
    it continues."""
    last_run: Block | None = None
    last_python: list[Block] = []
    for block in blocks:
        if block.directive == "output":
            if last_run is None:
                raise ValueError(f"{block.name}: output with no example before it")
            last_run.expected = [line for line in block.code.splitlines() if line.strip()]
        elif block.directive == "continues":
            if not last_python:
                raise ValueError(f"{block.name}: continues no Python block")
            block.before = list(last_python)
        if block.kind:
            last_run = block
        if block.kind == "python":
            last_python = [*block.before, block]


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def examples() -> list[Block]:
    return [block for page in pages() for block in blocks_of(page) if block.kind]


def files_of(page: str) -> dict[str, str]:
    return {b.argument: b.code for b in blocks_of(ROOT / page) if b.directive == "file"}


def missing_lines(expected: list[str], output: str) -> list[str]:
    """The expected lines that do not come out, in order (``…`` matches anything)."""
    got = output.splitlines()
    position = 0
    missing = []
    for line in expected:
        pattern = re.compile(".*".join(re.escape(part) for part in line.strip().split("…")))
        for index in range(position, len(got)):
            if pattern.fullmatch(got[index].strip()):
                position = index + 1
                break
        else:
            missing.append(line)
    return missing
