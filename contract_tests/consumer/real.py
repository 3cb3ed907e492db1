"""The consumer suite's checks on a client of the real service (opt-in, it costs
credits): the client talks through a `ValidatingProxy` that caps billable requests, and
the checks read the proxy's records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..checks import CheckFailures
from .adapters import AdapterFactory, close_adapter
from .proxy import ValidatingProxy
from .report import CaseResult, ConsumerReport
from .run import ClientRun

REAL_BASE_URL = "https://api.acedata.cloud"
REAL_PROMPT = "A paper boat drifts down a rain-soaked street, slow dolly shot"


def run_against_real_service(
    factory: AdapterFactory,
    token: str,
    *,
    target: str = REAL_BASE_URL,
    max_billable: int = 2,
    client_timeout: float = 60.0,
    progress: Callable[[CaseResult], None] | None = None,
) -> ConsumerReport:
    """The checks that need no fake, on the client talking to the real service through
    a `ValidatingProxy` that forwards at most ``max_billable`` generate/extend requests:
    one asynchronous generate (one video's credits) and a retrieve of it, a retrieve of
    an unknown task, and a generate with a wrong token. Fixed inputs: each costs money.
    Drift in the service's own answers is reported as warnings."""
    with ValidatingProxy(target, max_billable=max_billable) as proxy:
        adapter = factory(proxy.url, token)
        run = ClientRun.through_proxy(adapter, proxy, target, token, client_timeout)
        plays: list[tuple[str, str, Callable[[], None]]] = [
            ("generate (async), then retrieve", "generate", lambda: _real_generate(run)),
            ("retrieve: an unknown task", "retrieve", lambda: _real_unknown_task(run)),
            (
                "generate: a wrong token",
                "generate",
                lambda: _real_wrong_token(run, factory(proxy.url, "luma-mock-wrong-token")),
            ),
        ]
        results = []
        for name, operation, play in plays:
            result = CaseResult(name, "flow" if operation == "generate" else "error")
            if operation not in run.operations:
                result.skipped = f"the adapter has no {operation}()"
            else:
                run.result = result
                result.examples = 1
                try:
                    play()
                except CheckFailures as found:
                    result.failures = found.failures
            results.append(result)
            if progress is not None:
                progress(result)
        close_adapter(adapter)
        warnings = list(run.warnings) + [
            f"the service's answer drifted from the contract: {x.line()}"
            for x in proxy.exchanges
            if not x.answer_verdict.ok
        ]
        return ConsumerReport(f"{target} (through {proxy.url})", "real", results, warnings)


def _real_generate(run: ClientRun) -> None:
    accepted = run.call("generate", {"prompt": REAL_PROMPT, "aspect_ratio": "16:9", "async": True})
    seen = accepted.last()
    task_id = seen.answer.get("task_id") if seen and isinstance(seen.answer, dict) else None
    if task_id and "retrieve" in run.operations:
        run.call("retrieve", {"task_id": task_id}, expect="running")


def _real_unknown_task(run: ClientRun) -> None:
    run.call("retrieve", {"task_id": "luma-mock-no-such-task"}, expect="error")


def _real_wrong_token(run: ClientRun, adapter: Any) -> None:
    given, run.adapter = run.adapter, adapter
    try:
        run.call("generate", {"prompt": REAL_PROMPT, "async": True}, expect="error")
    finally:
        run.adapter = given
        close_adapter(adapter)
