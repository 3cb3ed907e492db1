"""The toy dialect (tests/toy) for the tests that prove a dialect is one pack: an
environment that registers it (its folder on PYTHONPATH holds the package and its
dist-info), and the `luma-mock` command of this environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

TOY = Path(__file__).resolve().parent / "toy"
LUMA_MOCK = str(Path(sys.executable).with_name("luma-mock"))


def toy_env() -> dict[str, str]:
    """This process's environment, with the toy dialect registered."""
    path = os.pathsep.join(filter(None, [str(TOY), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}
