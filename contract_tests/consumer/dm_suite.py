"""``luma-mock verify-client --dialect dream-machine``: does a client of Luma's Dream
Machine API keep the contract? Its adapter (`dm_adapters`; ``lumaai`` for the official
SDK) is driven against the fake of `dm_stage`, with create bodies drawn from the
contract (`contract_tests.dream_machine.strategies`). Before each example the fake is reset
and put in one situation: an answer; a generation queued, dreaming, or ending after the
client's third poll (completed or failed); an error — 400, 401, 404, 429 with
``Retry-After`` (once, so a client may retry past it), 500 (with ``x-should-retry:
false`` too). Every call's requests go through the ``dm-client`` checks of the registry.

    report = run_dm_consumer_suite(LumaaiAdapter, profile="ci")
    assert report.ok, report.render()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings

from ..checks import CheckFailure, CheckFailures
from ..checks.dm_client import DM_CLIENT_CHECKS
from ..contract import profiles
from .dm_cases import DmCase, dm_cases
from .dm_run import DmRun
from .dm_stage import DmStage
from .report import CaseResult

TOKEN = "luma-mock-dm-consumer"
EXAMPLES = {
    "ci": {"flow": 2, "error": 1},
    "dev": {"flow": 8, "error": 2},
    "thorough": {"flow": 30, "error": 4},
}


# -- running ------------------------------------------------------------------------------


def _settings(profile: str, kind: str) -> settings:
    if profile not in EXAMPLES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(EXAMPLES)}")
    profiles.register(prefix="luma-")
    return settings(
        settings.get_profile(f"luma-{profile}"),
        max_examples=EXAMPLES[profile][kind],
        phases=[Phase.explicit, Phase.generate],  # every call is real: no shrinking
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
        deadline=None,
        database=None,
    )


def run_dm_case(run: DmRun, case: DmCase, profile: str) -> CaseResult:
    result = CaseResult(case.name, case.kind)
    if case.operation not in run.operations:
        result.skipped = f"the adapter has no {case.operation}()"
        return result
    run.result = result

    @_settings(profile, case.kind)
    @given(fields=case.requests)
    def example(fields: dict[str, Any]) -> None:
        if result.failures:
            return  # the first failure is the one reported
        result.examples += 1
        try:
            case.play(run, fields)
        except CheckFailures as found:
            result.failures = found.failures

    try:
        example()
    except Exception as broken:  # the suite itself, not the client
        result.failures = [
            CheckFailure(f"the suite could not run {case.name}: {broken!r}", check="suite")
        ]
    finally:
        run.result = None
    return result


@dataclass
class DmConsumerReport:
    target: str
    profile: str
    results: list[CaseResult]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failures(self) -> list[CheckFailure]:
        return [f for r in self.results for f in r.failures]

    def failed_checks(self) -> set[str]:
        return {f.check for f in self.failures}

    def render(self) -> str:
        ran = [r for r in self.results if not r.skipped]
        verdict = "all checks hold" if self.ok else f"{len(self.failures)} failure(s)"
        lines = [
            f"Dream Machine consumer suite against {self.target} "
            f"(profile {self.profile}): {len(ran)} cases, {verdict}",
            "",
        ]
        lines.append(f"{'check':<26}{'passed':>8}{'failed':>8}")
        for name in DM_CLIENT_CHECKS:
            failed = sum(1 for r in self.results if name in {f.check for f in r.failures})
            passed = sum(1 for r in self.results if name in r.ran) - failed
            lines.append(f"{name:<26}{passed:>8}{failed:>8}")
        for result in self.results:
            for failure in result.failures:
                lines += [
                    "",
                    f"FAILED {failure.check} — {result.name}",
                    "  " + str(failure).replace("\n", "\n  "),
                ]
                if failure.reproduce:
                    lines += [
                        "  reproduce:",
                        *("    " + line for line in failure.reproduce.splitlines()),
                    ]
        return "\n".join(lines)


def run_dm_consumer_suite(
    factory: Callable[[str, str], Any],
    *,
    profile: str = "ci",
    token: str = TOKEN,
    call_timeout: float = 30.0,
    only: Callable[[DmCase], bool] | None = None,
    progress: Callable[[CaseResult], None] | None = None,
) -> DmConsumerReport:
    """Run the Dream Machine consumer suite on the client ``factory(base_url, token)``
    adapts (``base_url`` ends in ``/dream-machine/v1``)."""
    stage = DmStage(token)
    adapter = None
    try:
        adapter = factory(stage.base_url, token)
        run = DmRun(adapter, stage, token, call_timeout)
        results = []
        for case in dm_cases():
            if only is not None and not only(case):
                continue
            results.append(run_dm_case(run, case, profile))
            if progress is not None:
                progress(results[-1])
        return DmConsumerReport(stage.base_url, profile, results)
    finally:
        closer = getattr(adapter, "close", None)
        if callable(closer):
            closer()
        stage.close()
