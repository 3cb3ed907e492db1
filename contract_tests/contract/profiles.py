"""Hypothesis profiles shared by the project's tests and by the pytest plugin.

``ci`` is derandomized so a CI run is repeatable; ``dev`` is Hypothesis' default search;
``thorough`` looks ten times harder. ``HYPOTHESIS_PROFILE`` picks one; with ``CI`` set
and no choice made, ``ci`` is used.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def register(prefix: str = "") -> None:
    """Register the profiles; the pytest plugin uses ``prefix="luma-"`` so that they sit
    beside a project's own ``ci`` profile without replacing it."""
    common = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
    settings.register_profile(
        f"{prefix}ci", derandomize=True, database=None, print_blob=True, **common
    )
    settings.register_profile(f"{prefix}dev", **common)
    settings.register_profile(f"{prefix}thorough", max_examples=1000, **common)


def load_default() -> str:
    name = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    settings.load_profile(name)
    return name
