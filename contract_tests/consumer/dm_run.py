"""One run of a Dream Machine client's calls: the adapter, the stage it talks to, and
the checks' memory. `DmRun.call` makes one call on a thread of its own, takes what the
ear heard of it and runs the ``dm-client`` checks; each example's set-up is kept, so a
failure comes with a reproduction."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from ..checks import Answer, CheckContext, CheckFailures, run_checks
from ..checks.dm_client import DM_CLIENT_CHECKS
from ..checks.dm_client_calls import DmCall
from .dm_adapters import dm_operations
from .dm_stage import DmStage
from .report import CaseResult


class DmRun:
    """One run: the adapter, the stage, and what the checks remember."""

    def __init__(self, adapter: Any, stage: DmStage, token: str, call_timeout: float) -> None:
        self.adapter, self.stage, self.token = adapter, stage, token
        self.call_timeout = call_timeout
        self.operations = dm_operations(adapter)
        self.ctx = CheckContext()
        self.result: CaseResult | None = None
        self.setup: list[str] = []

    def prepare(self, rules: tuple[dict[str, Any], ...] = (), act: Any = None) -> None:
        self.stage.reset()
        for rule in rules:
            self.stage.add_rule(rule)
        self.stage.ear.act = act
        self.setup = [f"scenario rule of the Dream Machine engine: {json.dumps(r)}" for r in rules]

    def made(self, **body: Any) -> str:
        generation = self.stage.make(body or None)
        self.setup.append(f"made first: generation {generation['id']} (queued)")
        return str(generation["id"])

    def call(self, operation: str, fields: dict[str, Any], expect: str = "answer") -> DmCall:
        mark = len(self.stage.ear.heard)
        method = getattr(self.adapter, operation)
        if operation in ("get", "delete", "wait"):
            returned, raised, in_time = self._bounded(method, (fields["generation_id"],), {})
        else:
            returned, raised, in_time = self._bounded(method, (), fields)
        call = DmCall(
            "dm-client",
            label=self.result.name if self.result else operation,
            call=operation,
            fields=fields,
            expect=expect,
            token=self.token,
            heard=self.stage.ear.since(mark),
            returned=returned,
            raised=raised,
            in_time=in_time,
            setup=list(self.setup),
        )
        before = dict(self.ctx.runs)
        failures = run_checks(self.ctx, call, Answer(0))
        if self.result is not None:
            self.result.ran.update(
                n for n in DM_CLIENT_CHECKS if self.ctx.runs[n] > before.get(n, 0)
            )
        if failures:
            steps = self.reproduction(call)
            for failure in failures:
                failure.reproduce = steps
            raise CheckFailures(failures)
        return call

    def _bounded(
        self, method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Any, BaseException | None, bool]:
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["returned"] = method(*args, **kwargs)
            except Exception as error:  # what the client raised is the outcome
                box["raised"] = error

        worker = threading.Thread(target=run, name="luma-dm-consumer-call", daemon=True)
        worker.start()
        worker.join(self.call_timeout)
        return box.get("returned"), box.get("raised"), not worker.is_alive()

    def reproduction(self, call: DmCall) -> str:
        lines = [
            f"# the fake: luma-mock's app, manual clock, token {self.token}; then",
            *call.setup,
        ]
        lines.append(f"adapter.{call.call}({json.dumps(call.fields)})")
        lines += [
            f"# the client sent: {seen.curl(self.stage.url)}  -> {seen.status}"
            for seen in call.heard
        ]
        return "\n".join(lines)
