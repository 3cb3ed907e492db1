"""The consumer suite: does a client of an API the product speaks keep the contract?

It drives the user's client through an adapter (see `adapters`, and the dialect's own:
``contract_tests/<dialect>/adapters.py``) against the fake — a ``luma-mock serve``
process it starts on a free loopback port, or a running fake given by URL — with
requests generated from the contract, and reads what the client really sent from the
fake's journal (headers and arrival times included). Before every example the fake is
reset and told, through its control API, how the example goes: answer at once, hold a
task on a manual clock, refuse with a documented error, or break the answer below HTTP
(reset, empty reply, malformed JSON, cut short, dribbled, hang) — the same for every
dialect, on the fake's own server.

The checks are in `contract_tests.checks.client` (those every dialect shares) and each
dialect's ``client`` module: each looks at one `ClientCall` (what the adapter was given,
the requests it made as the journal saw them, what it returned or raised). A call that
retries blind after a lost answer, and so may pay twice, is a *billing risk*, reported
apart from the contract's breaks (`report`).

    report = run_consumer_suite(my_factory, dialect=name, profile="ci")
    assert report.ok, report.render()

Against the real service the same checks run on the traffic of a `ValidatingProxy`
with a cap on billable requests: `run_against_real_service` (opt-in, costs credits).

The parts, each importing only parts after it: `real` (the real service), `suite`
(running the cases under Hypothesis), `run` (one client's calls and their checks),
`journals` (where what it sent is read), `report`, `fake` (the one stage: the fake and
its control API), `proxy` (the validating proxy), `adapters`, `dialect` (what a dialect
provides, found through the registry: `ConsumerDialect`, `ClientRules`,
`ProxyVerdicts`) and `verdicts`. This package
is ``luma-mock verify-client`` (`main`) and the names to import.

It may import the standard library, Hypothesis, `requests`, `werkzeug`,
`contract_tests.contract`, `contract_tests.checks` and — inside `fake` and `suite` only
— the fake's process and callback receiver (`mock_server.harness`); never the provider
suite, the plugin or a dialect's half (reached through the registry only).
"""

from __future__ import annotations

import sys
from typing import Any

from ..contract.packs import UnknownDialect, default_pack
from .dialect import (
    FAULTS,
    CallShape,
    ClientRules,
    ConsumerCase,
    ConsumerDialect,
    ProxyVerdicts,
    client_of,
    consumer_of,
    verdicts_of,
)
from .fake import ControlError, FakeControl, LiveFake
from .journals import FakeJournal, ProxyJournal
from .real import run_against_real_service
from .report import BILLING_RISK, CaseResult, ConsumerReport
from .run import ClientRun, bounded
from .suite import EXAMPLES, TOKEN, run_consumer_suite

__all__ = [
    "BILLING_RISK",
    "EXAMPLES",
    "FAULTS",
    "TOKEN",
    "CallShape",
    "CaseResult",
    "ClientRules",
    "ClientRun",
    "ConsumerCase",
    "ConsumerDialect",
    "ConsumerReport",
    "ControlError",
    "FakeControl",
    "FakeJournal",
    "LiveFake",
    "ProxyJournal",
    "ProxyVerdicts",
    "bounded",
    "client_of",
    "consumer_of",
    "main",
    "run_against_real_service",
    "run_consumer_suite",
    "verdicts_of",
]

# -- luma-mock verify-client (arguments in mock_server.cli) -------------------------------


def _show(result: CaseResult) -> None:
    """One line per situation as it ends."""
    if result.skipped:
        mark, detail = "skip", result.skipped
    elif result.ok:
        mark, detail = "ok", f"{result.examples} example(s)"
        if result.risks:
            mark, detail = "RISK", "billing risk (reported, not failed)"
    else:
        mark, detail = "FAIL", ", ".join(dict.fromkeys(f.check for f in result.failures))
    print(f"  {mark:<5}{result.name:<72}{detail}", flush=True)


def main(args: Any) -> int:
    """Exit 0 when every check holds, 1 when one fails (or a billing risk, unless
    ``--billing-risk warn``), 2 when the suite cannot run."""
    dialect = getattr(args, "dialect", None) or default_pack().name
    try:
        factory = consumer_of(dialect).load_factory(args.factory, args.client_timeout)
    except (ImportError, AttributeError, ValueError, UnknownDialect) as bad:
        print(f"luma-mock verify-client: cannot load {args.factory}: {bad}", file=sys.stderr)
        return 2

    print(
        f"luma-mock verify-client --dialect {dialect} {args.factory} (profile {args.profile})",
        flush=True,
    )
    try:
        report = run_consumer_suite(
            factory,
            dialect=dialect,
            profile=args.profile,
            fake_url=args.fake_url,
            control_token=args.control_token,
            token=args.token,
            client_timeout=args.client_timeout,
            billing_risk=getattr(args, "billing_risk", "fail"),
            only=(lambda case: args.only in case.name) if args.only else None,
            progress=_show,
            x402=getattr(args, "x402", False),
            x402_network=getattr(args, "x402_network", "base"),
        )
    except (RuntimeError, ControlError, OSError) as broken:
        print(f"luma-mock verify-client: the suite could not run: {broken}", file=sys.stderr)
        return 2
    print()
    print(report.render(), flush=True)
    return 0 if report.ok else 1
