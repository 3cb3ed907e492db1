"""The consumer suite: does a client of the Luma API keep the contract?

It drives the user's client through an adapter (see `adapters`) against the fake — a
``luma-mock serve`` process it starts on a free loopback port, or a running fake given
by URL — with requests generated from the contract (`strategies`), and reads what the
client really sent from the fake's journal. Before every example the fake is reset and
told, through its control API, how the example goes: answer at once, hold a task in
``pending``/``processing`` on a manual clock, refuse with a documented error, or break
the answer (reset, empty reply, malformed JSON, cut short, hang).

The checks are in `contract_tests.checks.client`: each looks at one `ClientCall`
(`contract_tests.checks.client_calls`: what the adapter was given, the requests it made
as the journal saw them, what it returned or raised) and the fake's answer to it — among
them, that one call never sends two requests that may each cost a video
(`one-bill-per-call`).

    report = run_consumer_suite(my_factory, profile="ci")
    assert report.ok, report.render()

Against the real service the same checks run on the traffic of a `ValidatingProxy`
with a cap on billable requests: `run_against_real_service` (opt-in, costs credits).

The parts, each importing only parts after it: `real` (the real service), `suite`
(running the cases under Hypothesis), `cases` (the situations), `run` (one client's
calls and their checks), `report`, `fake` (the fake and its control API), `proxy`
(the validating proxy) and `verdicts` (what the contract says of one exchange),
`adapters` (how a client is driven). This package is ``luma-mock verify-client``
(`main`) and the names to import.

It may import the standard library, Hypothesis, `requests`, `werkzeug`,
`contract_tests.contract`, `contract_tests.checks` and — inside `fake` and `suite` only
— the fake's process and callback receiver (`mock_server`); inside `dm_stage` only, the
fake's app itself (the Dream Machine suite serves it in process: `dm_suite`); never the
provider suite or the plugin.

For Luma's Dream Machine API (``verify-client --dialect dream-machine``): `dm_suite`
(running and the report), `dm_cases` (the situations), `dm_run` (one client's calls),
`dm_stage` (the fake and the ear that times each request), `dm_adapters` (the adapter
protocol, and `LumaaiAdapter` for the official SDK).
"""

from __future__ import annotations

import sys
from typing import Any

from .adapters import load_factory
from .cases import ERRORS, FAULTS, QUEUE, WORK, ConsumerCase, cases
from .fake import SETUP_SCENARIO, ControlError, FakeControl, LiveFake
from .real import REAL_BASE_URL, REAL_PROMPT, run_against_real_service
from .report import KIND_CHECKS, CaseResult, ConsumerReport
from .run import CASE_RULE, ClientRun, FakeJournal, ProxyJournal
from .suite import (
    EXAMPLES,
    SHRINK_BUDGET,
    TOKEN,
    hypothesis_settings,
    run_case,
    run_consumer_suite,
)

__all__ = [
    "CASE_RULE",
    "ERRORS",
    "EXAMPLES",
    "FAULTS",
    "KIND_CHECKS",
    "QUEUE",
    "REAL_BASE_URL",
    "REAL_PROMPT",
    "SETUP_SCENARIO",
    "SHRINK_BUDGET",
    "TOKEN",
    "WORK",
    "CaseResult",
    "ClientRun",
    "ConsumerCase",
    "ConsumerReport",
    "ControlError",
    "FakeControl",
    "FakeJournal",
    "LiveFake",
    "ProxyJournal",
    "cases",
    "hypothesis_settings",
    "main",
    "run_against_real_service",
    "run_case",
    "run_consumer_suite",
]

# -- luma-mock verify-client (arguments in mock_server.cli) -------------------------------


def _show(result: CaseResult) -> None:
    """One line per situation as it ends (either dialect's suite)."""
    if result.skipped:
        mark, detail = "skip", result.skipped
    elif result.ok:
        mark, detail = "ok", f"{result.examples} example(s)"
    else:
        mark, detail = "FAIL", ", ".join(dict.fromkeys(f.check for f in result.failures))
    print(f"  {mark:<5}{result.name:<72}{detail}", flush=True)


def main(args: Any) -> int:
    """Exit 0 when every check holds, 1 when one fails, 2 when the suite cannot run."""
    if getattr(args, "dialect", "acedata") == "dream-machine":
        return _main_dream_machine(args)
    try:
        factory = load_factory(args.factory)
    except (ImportError, AttributeError, ValueError) as bad:
        print(f"luma-mock verify-client: cannot load {args.factory}: {bad}", file=sys.stderr)
        return 2

    print(f"luma-mock verify-client {args.factory} (profile {args.profile})", flush=True)
    try:
        report = run_consumer_suite(
            factory,
            profile=args.profile,
            fake_url=args.fake_url,
            control_token=args.control_token,
            token=args.token,
            client_timeout=args.client_timeout,
            only=(lambda case: args.only in case.name) if args.only else None,
            progress=_show,
        )
    except (RuntimeError, ControlError, OSError) as broken:
        print(f"luma-mock verify-client: the suite could not run: {broken}", file=sys.stderr)
        return 2
    print()
    print(report.render(), flush=True)
    return 0 if report.ok else 1


def _main_dream_machine(args: Any) -> int:
    """``verify-client --dialect dream-machine``: the same exit codes."""
    from .dm_adapters import load_dm_factory
    from .dm_suite import run_dm_consumer_suite

    if args.fake_url:
        print(
            "luma-mock verify-client: --fake-url is not supported with --dialect dream-machine "
            "(the suite serves the fake itself, to time each request)",
            file=sys.stderr,
        )
        return 2
    try:
        factory = load_dm_factory(args.factory)
    except (ImportError, AttributeError, ValueError) as bad:
        print(f"luma-mock verify-client: cannot load {args.factory}: {bad}", file=sys.stderr)
        return 2

    print(f"luma-mock verify-client --dialect dream-machine {args.factory} "
          f"(profile {args.profile})", flush=True)  # fmt: skip
    try:
        report = run_dm_consumer_suite(
            factory,
            profile=args.profile,
            token=args.token,
            call_timeout=max(30.0, 3 * args.client_timeout),
            only=(lambda case: args.only in case.name) if args.only else None,
            progress=_show,
        )
    except (RuntimeError, OSError) as broken:
        print(f"luma-mock verify-client: the suite could not run: {broken}", file=sys.stderr)
        return 2
    print()
    print(report.render(), flush=True)
    return 0 if report.ok else 1
