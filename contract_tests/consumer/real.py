"""The consumer suite's checks on a client of the real service (opt-in, it costs
credits): the client talks through a `ValidatingProxy` that caps billable requests, the
calls are the dialect's few (``real_plays``), and the checks read the proxy's records."""

from __future__ import annotations

from collections.abc import Callable

from ..checks import CheckFailures
from ..contract.packs import default_pack, pack
from .adapters import close_adapter
from .dialect import AdapterFactory, client_of, consumer_of
from .proxy import ValidatingProxy
from .report import CaseResult, ConsumerReport
from .run import ClientRun


def run_against_real_service(
    factory: AdapterFactory,
    token: str,
    *,
    dialect: str | None = None,
    target: str | None = None,
    max_billable: int = 2,
    client_timeout: float = 60.0,
    progress: Callable[[CaseResult], None] | None = None,
) -> ConsumerReport:
    """The checks that need no fake, on the client talking to the real service (of
    ``dialect``, by default the one served at the root; or ``target``) through a
    `ValidatingProxy` that forwards at most ``max_billable`` billable requests. Fixed
    inputs: each costs money. Drift in the service's own answers is reported as
    warnings."""
    dialect = dialect or default_pack().name
    speaks, target = consumer_of(dialect), target or pack(dialect).real_service
    with ValidatingProxy(target, max_billable=max_billable, dialect=dialect) as proxy:
        base_url = proxy.url + pack(dialect).path_prefix
        adapter = factory(base_url, token)
        run = ClientRun.through_proxy(adapter, proxy, target, token, client_timeout, dialect)
        results = []
        for name, kind, operation, play in speaks.real_plays(run, factory, base_url):
            result = CaseResult(name, kind)
            if operation not in run.operations:
                result.skipped = f"the adapter has no {operation}()"
            else:
                run.result = result
                result.examples = 1
                try:
                    play()
                except CheckFailures as found:
                    result.failures = found.failures
                result.weigh("fail")
            results.append(result)
            if progress is not None:
                progress(result)
        close_adapter(adapter)
        warnings = list(run.warnings) + [
            f"the service's answer drifted from the contract: {x.line()}"
            for x in proxy.exchanges
            if not x.answer_verdict.ok
        ]
        return ConsumerReport(
            f"{target} (through {proxy.url})",
            "real",
            results,
            warnings,
            checks=client_of(dialect).CHECKS,
            title=f"{pack(dialect).title}: consumer suite",
        )
