#!/usr/bin/env python3
"""The newcomer's two commands, with nothing but Python 3 and git on the machine:

    python3 dev.py serve [luma-mock serve options]   set up, then start the fake server
    python3 dev.py test  [pytest options]            set up, then lint and run every test
    python3 dev.py docs  [--serve]                   set up, then build the docs site into
                                                     site/ strictly (or preview it)

"Lint" is ruff and ``lint-imports`` (the layering contracts in pyproject.toml). The test
command builds the docs as well (``tests/test_docs.py``), so a broken link or a reference
that no longer matches the code fails it.
Set-up makes ``.venv/`` and installs the project with its development extras into it; it
runs again only when ``pyproject.toml`` changes, so both commands start fast after the
first time.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".luma-mock-installed"


def _fingerprint() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def set_up() -> None:
    if not (BIN / "python").exists():
        print("dev.py: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if STAMP.exists() and STAMP.read_text() == _fingerprint():
        return
    print("dev.py: installing luma-mock and its development tools into .venv", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(_fingerprint())


def run(*command: str) -> int:
    return subprocess.run(command, cwd=ROOT).returncode


def docs(rest: list[str]) -> int:
    """Build the site strictly (a warning, a broken link or an unknown anchor fails it),
    or with ``--serve`` preview it, rebuilt on every change, at http://127.0.0.1:8001."""
    mkdocs = str(BIN / "mkdocs")
    # Material's notice that Zensical succeeds it: known, and why we wait is in the README.
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    if rest[:1] == ["--serve"]:
        return run(mkdocs, "serve", "--strict", "--dev-addr", "127.0.0.1:8001", *rest[1:])
    return run(mkdocs, "build", "--strict", "--site-dir", str(ROOT / "site"), *rest)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "test", "docs"}:
        print(__doc__)
        return 2
    set_up()
    verb, rest = argv[0], argv[1:]
    if verb == "serve":
        os.execv(str(BIN / "luma-mock"), [str(BIN / "luma-mock"), "serve", *rest])
    if verb == "docs":
        return docs(rest)
    lint = (
        run(str(BIN / "ruff"), "check", ".")
        or run(str(BIN / "ruff"), "format", "--check", ".")
        or run(str(BIN / "lint-imports"), "--no-cache")  # the layering (pyproject.toml)
    )
    if lint:
        return lint
    return run(str(BIN / "python"), "-m", "pytest", *_in_parallel(rest), *rest)


def _in_parallel(rest: list[str]) -> list[str]:
    """pytest-xdist's workers, unless the options choose otherwise: most tests wait on a
    server, a Redis or a browser of their own, so two or more workers finish the suite in
    about half the time (CI's two cores: ~17 min serial, inside its 20-minute budget only
    just)."""
    for at, arg in enumerate(rest):
        if arg.startswith(("-n", "--numprocesses", "--dist", "--pdb", "--co", "--collect-only")):
            return []
        if arg == "-p" and rest[at + 1 : at + 2] == ["no:xdist"]:
            return []
    workers = min(max(os.cpu_count() or 2, 2), 4)
    return ["-n", str(workers), "--dist", "worksteal"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
