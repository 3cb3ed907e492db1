"""The layering rules of pyproject.toml's ``[tool.importlinter]`` hold, and they bite: the
same contracts, run on a copy of the packages with one arrow pointing up, fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(where: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the project's contracts, on the packages found first in
    ``where``."""
    env = {**os.environ, "PYTHONPATH": str(where)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_import_contract_is_kept() -> None:
    run = lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_an_upward_import_breaks_a_contract(tmp_path: Path) -> None:
    for package in ("mock_server", "contract_tests"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    clock = tmp_path / "mock_server" / "engine" / "clock.py"
    clock.write_text(clock.read_text() + "\nfrom mock_server.web import app  # upward\n")
    run = lint_imports(tmp_path)
    assert run.returncode != 0
    assert "Arrows only downward BROKEN" in run.stdout
    assert "mock_server.engine.clock -> mock_server.web.app" in run.stdout
