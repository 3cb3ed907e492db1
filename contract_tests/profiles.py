"""Hypothesis profiles shared by the project's tests and by the pytest plugin.

``ci`` is derandomized so a CI run is repeatable; ``dev`` is Hypothesis' default search;
``thorough`` looks ten times harder. ``HYPOTHESIS_PROFILE`` picks one; with ``CI`` set
and no choice made, ``ci`` is used.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILES = ("ci", "dev", "thorough")


def register() -> None:
    common = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
    settings.register_profile("ci", derandomize=True, database=None, print_blob=True, **common)
    settings.register_profile("dev", **common)
    settings.register_profile("thorough", max_examples=1000, **common)


def load_default() -> str:
    name = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    settings.load_profile(name)
    return name
