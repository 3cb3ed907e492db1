"""The provider suite's entry point: `verify` runs one dialect's phases against a
`Target` — cheap ones first (auth, invalid and malformed input, unknown ids), then
billable ones (the dialect's flows, then its state machine) — and returns a
`Verification` for `report`. The dialect is found by name in the registry of packs; its
``provider`` module (`dialect.ProviderDialect`) makes the phases. `iter_exchanges` reads
back a ``--record`` file.
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
from ..contract.packs import default_pack, pack
from .outcome import Budget, Verification
from .plans import _run_plan
from .progress import Progress, Recorder
from .runner import Provider
from .stateful import run_machine
from .targets import Target

REAL_SERVICE = default_pack().real_service  # the real service of the API at the root
DEFAULT_CAP_WITH_CONTROL = 36  # the fake's tasks are free: two per shape and mode, or more


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
    dialect: str | None = None,
    x402: Any = None,
) -> Verification:
    """Verify ``target`` against the contract and return what was found.

    ``max_billable``: the cap on billable requests (default: 36 on a target with the
    control API, 0 elsewhere — the real service costs money). ``max_examples``: per
    property (default: the profile's). ``record``: a JSON-lines file of every exchange.
    ``dialect``: the name of a registered pack (`contract.packs.names`; default: the
    one served at the root). A base URL given as the dialect's SDKs take it, with the
    pack's prefix (``…/dream-machine/v1``), is the service at its host. ``x402``: a
    `gateway.Gateway` — the target is a pay-per-call gateway: its 402 contract is
    checked, and paid for only with the gateway's key and cap.
    """
    started = time.monotonic()
    dialect = dialect or default_pack().name
    target.under(pack(dialect).path_prefix)
    profiles.register()
    base = settings.get_profile(profile)
    n = max_examples or base.max_examples
    if seed is None and not base.derandomize:
        seed = random.randrange(2**32)
    recorder = Recorder(record, target.token)
    budget = Budget(0)
    progress = Progress(out, budget)
    provider = Provider(target, budget, recorder, progress, dialect)
    provider.x402 = x402
    try:
        provider.probe_control()
        if max_billable is None:
            max_billable = DEFAULT_CAP_WITH_CONTROL if provider.control is not None else 0
            if not max_billable:
                provider.notes.append("billable checks skipped: pass --max-billable N")
        budget.cap = max_billable
        provider.api.prepare(provider)
        plans = provider.api.cheap_plans(provider, n)
        plans += provider.api.billable_plans(provider, n, image_url) if budget.cap else []
        progress.planned = sum(p.examples for p in plans)
        for phase, group in itertools.groupby(plans, key=lambda p: p.phase):
            for plan in group:
                _run_plan(provider, plan, base, seed)
            progress.phase_done(phase)
        if provider.risky_skipped:
            routes = ", ".join(sorted(provider.risky_skipped))
            provider.notes.append(
                f"{sum(provider.risky_skipped.values())} invalid examples to {routes} not "
                "sent: without a control API the target may be the real service, which "
                "could accept and bill them"
            )
        if stateful:
            run_machine(provider, base, n, seed)
            progress.phase_done("stateful")
    finally:
        provider.cleanup()
        recorder.close()
    if x402 is not None:
        provider.notes.append(x402.note())
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
