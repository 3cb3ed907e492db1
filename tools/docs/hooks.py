"""MkDocs hooks (mkdocs.yml ``hooks:``): the reference pages, written from the code at
every build (`reference`), and the changelog page from CHANGELOG.md at the root — so
none is ever a copy kept by hand in docs/."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))  # MkDocs loads this file by path: its sibling by name too

import reference  # noqa: E402


def on_files(files: Files, config: Any) -> Files:
    for uri, write in reference.PAGES.items():
        files.append(File.generated(config, uri, content=write()))
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    files.append(File.generated(config, "changelog.md", content=changelog))
    return files
