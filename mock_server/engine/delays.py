"""How long a task waits in the queue and how long it takes to generate.

A delay is a distribution — fixed, uniform or lognormal (median, sigma, cap) — sampled
from the fake's seeded random source, so a seeded fake is reproducible.

Two kinds of work take their own time: ``generate`` and ``extend``. These are the
fake's own words — the keys of its ``delay`` setting, in config files, on the command
line and over the control API — not a dialect's: a dialect names the action of a task
it creates, and an ``extend`` action takes the ``extend`` time, any other the
``generate`` time.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any, Protocol


class Distribution(Protocol):
    def sample(self, rng: random.Random) -> float: ...


@dataclass(frozen=True)
class Fixed:
    seconds: float

    def sample(self, rng: random.Random) -> float:
        return self.seconds


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)


@dataclass(frozen=True)
class LogNormal:
    """Right-skewed like real generation times: most near the median, a long tail, capped."""

    median: float
    sigma: float
    cap: float = math.inf

    def sample(self, rng: random.Random) -> float:
        return min(self.cap, rng.lognormvariate(math.log(self.median), self.sigma))


@dataclass(frozen=True)
class DelayModel:
    queue: Distribution = field(default_factory=lambda: Fixed(0.0))
    generate: Distribution = field(default_factory=lambda: Fixed(0.0))
    extend: Distribution = field(default_factory=lambda: Fixed(0.0))

    def plan(self, action: str, rng: random.Random) -> tuple[float, float]:
        """(seconds pending, seconds processing) for one task doing ``action``."""
        work = self.extend if action == "extend" else self.generate
        return max(0.0, self.queue.sample(rng)), max(0.0, work.sample(rng))


PRESETS: dict[str, DelayModel] = {
    "instant": DelayModel(),
    # A few seconds: long enough to see pending and processing, short enough to wait for.
    "default": DelayModel(Fixed(0.5), Uniform(2.0, 4.0), Uniform(2.0, 4.0)),
    # Near the real service: about 90 s median, a tail toward five minutes.
    "realistic": DelayModel(
        LogNormal(3.0, 0.5, 30.0), LogNormal(90.0, 0.35, 300.0), LogNormal(90.0, 0.35, 300.0)
    ),
}


def parse_distribution(spec: Any) -> Distribution:
    """A distribution from config: a number of seconds, or a table such as
    ``{kind = "lognormal", median = 90, sigma = 0.35, cap = 300}``."""
    if isinstance(spec, bool):
        raise ValueError(f"a delay is seconds or a table, not {spec!r}")
    if isinstance(spec, (int, float)):
        return Fixed(_seconds(spec))
    if not isinstance(spec, dict):
        raise ValueError(f"a delay is seconds or a table, not {spec!r}")
    kind = spec.get("kind", "fixed")
    try:
        if kind == "fixed":
            return Fixed(_seconds(spec["seconds"]))
        if kind == "uniform":
            low, high = _seconds(spec["low"]), _seconds(spec["high"])
            if high < low:
                raise ValueError("uniform delay needs low <= high")
            return Uniform(low, high)
        if kind == "lognormal":
            median, sigma = _seconds(spec["median"]), float(spec["sigma"])
            if median <= 0 or sigma < 0:
                raise ValueError("lognormal delay needs median > 0 and sigma >= 0")
            return LogNormal(median, sigma, _seconds(spec.get("cap", math.inf)))
    except KeyError as missing:
        raise ValueError(f"{kind} delay needs {missing}") from None
    raise ValueError(f"unknown delay kind {kind!r} (fixed, uniform, lognormal)")


def _seconds(value: Any) -> float:
    seconds = float(value)
    if seconds < 0 or math.isnan(seconds):
        raise ValueError(f"a delay cannot be {value!r}")
    return seconds


def parse_delays(spec: Any) -> DelayModel:
    """``--delay``'s value or the config's ``delay``: a preset name, a number of seconds
    (each task then takes exactly that long), or a table with ``queue``, ``generate``
    and ``extend`` (each a distribution; ``preset`` names the base for the others)."""
    if isinstance(spec, str):
        if spec in PRESETS:
            return PRESETS[spec]
        try:
            spec = float(spec)
        except ValueError:
            raise ValueError(f"unknown delay {spec!r}: seconds or {', '.join(PRESETS)}") from None
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        work = Fixed(_seconds(spec))
        return DelayModel(Fixed(0.0), work, work)
    if isinstance(spec, dict):
        preset = spec.get("preset", "default")
        if not isinstance(preset, str) or preset not in PRESETS:
            raise ValueError(f"unknown delay preset {preset!r}: {', '.join(PRESETS)}")
        base = PRESETS[preset]
        return DelayModel(
            parse_distribution(spec["queue"]) if "queue" in spec else base.queue,
            parse_distribution(spec["generate"]) if "generate" in spec else base.generate,
            parse_distribution(spec["extend"]) if "extend" in spec else base.extend,
        )
    raise ValueError(f"a delay is a preset name, seconds or a table, not {spec!r}")
