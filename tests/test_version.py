"""``luma-mock --version`` prints the installed version, the one pyproject.toml declares
and CHANGELOG.md's latest release heading names."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def declared() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_version_prints_the_package_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mock_server.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"luma-mock {declared()}"


def test_the_changelog_names_the_version_as_a_release() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.M)
    assert declared() in releases
    assert changelog.startswith("# Changelog")
    assert "## [Unreleased]" in changelog
