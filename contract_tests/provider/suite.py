"""The provider suite's entry point: `verify` runs the phases against a `Target` —
cheap ones first (auth, invalid and malformed input, unknown ids), then billable ones
(every request shape in every mode, then the stateful machine) — and returns a
`Verification` for `report`. `iter_exchanges` reads back a ``--record`` file.
"""

from __future__ import annotations

import itertools
import json
import random
import sys
import time
from collections.abc import Iterator
from typing import IO, Any

from hypothesis import settings

from ..contract import profiles
from ..contract.packs import pack
from .outcome import Budget, Verification
from .plans import _run_plan, billable_plans, cheap_plans
from .progress import Progress, Recorder
from .runner import Provider
from .targets import Target

REAL_SERVICE = "https://api.acedata.cloud"
DEFAULT_CAP_WITH_CONTROL = 36  # the fake's videos are free: two per shape and mode


# -- the entry point ------------------------------------------------------------------


def verify(
    target: Target,
    *,
    max_billable: int | None = None,
    profile: str = "ci",
    max_examples: int | None = None,
    record: str | None = None,
    seed: int | None = None,
    stateful: bool = True,
    image_url: str | None = None,
    out: IO[str] | None = sys.stderr,
    dialect: str = "acedata",
) -> Verification:
    """Verify ``target`` against the contract and return what was found.

    ``max_billable``: the cap on billable requests (default: 36 on a target with the
    control API, 0 elsewhere — the real service costs money). ``max_examples``: per
    property (default: the profile's). ``record``: a JSON-lines file of every exchange.
    ``dialect``: ``acedata`` (POST /luma/videos …) or ``dream-machine`` (Luma's own API
    under ``/dream-machine/v1``; `dm_plans`, `dm_stateful`).
    """
    started = time.monotonic()
    target.under(pack(dialect).path_prefix)  # a base URL given as an SDK's, prefix and all
    profiles.register()
    base = settings.get_profile(profile)
    n = max_examples or base.max_examples
    if seed is None and not base.derandomize:
        seed = random.randrange(2**32)
    recorder = Recorder(record, target.token)
    budget = Budget(0)
    progress = Progress(out, budget)
    provider = Provider(target, budget, recorder, progress)
    try:
        provider.probe_control()
        if max_billable is None:
            max_billable = DEFAULT_CAP_WITH_CONTROL if provider.control is not None else 0
            if not max_billable:
                provider.notes.append("billable checks skipped: pass --max-billable N")
        budget.cap = max_billable
        if dialect == "dream-machine":
            from .dm_plans import (
                dm_billable_plans,
                dm_cheap_plans,
                probe_derived,
                probe_more_creates,
            )

            provider.dm_derived = probe_derived(provider)
            provider.dm_more_creates = probe_more_creates(provider)
            plans = dm_cheap_plans(provider, n)
            plans += dm_billable_plans(provider, n) if budget.cap else []
        else:
            plans = cheap_plans(provider, n)
            plans += billable_plans(provider, n, image_url) if budget.cap else []
        progress.planned = sum(p.examples for p in plans)
        for phase, group in itertools.groupby(plans, key=lambda p: p.phase):
            for plan in group:
                _run_plan(provider, plan, base, seed)
            progress.phase_done(phase)
        if provider.risky_skipped:
            what = "create" if dialect == "dream-machine" else "/luma/videos"
            provider.notes.append(
                f"{provider.risky_skipped} invalid {what} examples with a usable prompt "
                "not sent: without a control API the target may be the real service, which "
                "could accept and bill them"
            )
        if stateful and dialect == "dream-machine":
            from .dm_stateful import run_dm_machine

            run_dm_machine(provider, base, n, seed)
            progress.phase_done("stateful")
        elif stateful:
            from .stateful import run_machine

            run_machine(provider, base, n, seed)
            progress.phase_done("stateful")
    finally:
        provider.cleanup()
        recorder.close()
    return Verification(
        target=target.name,
        failures=provider.failures,
        runs=dict(provider.ctx.runs),
        spent=budget.spent,
        cap=budget.cap,
        exchanges=recorder.count,
        examples=progress.done,
        seconds=time.monotonic() - started,
        seed=seed,
        profile=profile,
        notes=provider.notes + ([target.hint] if target.hint else []),
    )


def iter_exchanges(path: str) -> Iterator[dict[str, Any]]:
    """The exchanges of a ``--record`` file, one dict each."""
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)
