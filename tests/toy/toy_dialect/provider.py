"""What ``luma-mock verify --dialect toy`` asks of the toy API
(`contract_tests.provider.dialect.ProviderDialect`): its phases and its state machine."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from contract_tests.checks import Answer, Case
from contract_tests.contract.invalid import Invalid
from contract_tests.provider.outcome import BudgetSpent
from contract_tests.provider.plans import Plan, shared_out
from contract_tests.provider.runner import Provider
from contract_tests.provider.stateful import INDEX, ProviderMachine
from contract_tests.provider.targets import Transport

from . import PACK
from . import strategies as T

PREFIX = PACK.path_prefix


def request(operation: str, method: str, path: str, body: Any = None, **more: Any) -> Case:
    return Case(operation, body, method=method, path=PREFIX + path, dialect=PACK.name, **more)


def read_case(job_id: str, expect: int = 200) -> Case:
    return request("get", "GET", f"/jobs/{job_id}", label="get", task_id=job_id,
                   expect_status=expect)  # fmt: skip


def reach(transport: Transport) -> Answer:
    """An unknown job: any server of this API answers it (404), at no cost."""
    return transport.send("GET", f"{PREFIX}/jobs/{uuid.UUID(int=0, version=4)}", None, {}, 10.0)


def prepare(provider: Provider) -> None:
    provider.memory = None  # nothing to remember across flows


def could_bill(case: Case) -> bool:
    return True  # any invalid create: a lenient server could accept and bill it


def create(provider: Provider, body: dict[str, Any], label: str) -> Case | None:
    if body.get("callback_url"):
        body = provider.unique_callback(body)
    case = request("create", "POST", "/jobs", body, label=label)
    made = provider.exchange(case).json_or_none()
    if not isinstance(made, dict) or not isinstance(made.get("id"), str):
        return None
    case.task_id = made["id"]
    return case


def lifecycle(provider: Provider, body: dict[str, Any], label: str) -> None:
    """A job made, brought to its end (every poll checked), its callback, a last get."""
    case = create(provider, body, label)
    if case is None or case.task_id is None or provider.settle(case.task_id) is None:
        return
    if case.body.get("callback_url"):
        provider.check_callback(case, "toy-callback")
    provider.exchange(read_case(case.task_id))


def cheap_plans(provider: Provider, n: int) -> list[Plan]:
    def auth(kind: str) -> None:
        case = read_case(str(uuid.UUID(int=1, version=4)), expect=404)
        case.auth, case.label = kind, f"token-{kind}"
        provider.exchange(case)

    def invalid(item: Invalid) -> None:
        case = request("create", "POST", "/jobs", item.body, raw=item.raw, label=item.rule,
                       valid=False)  # fmt: skip
        if not provider.skip_risky(case):
            provider.exchange(case)

    def unknown(job_id: str) -> None:
        provider.exchange(read_case(job_id, expect=404))

    return [
        Plan("auth", "toy auth", st.sampled_from(("missing", "malformed", "wrong")), auth, 3),
        Plan("invalid", "invalid jobs", T.invalid_job_requests(), invalid, n),
        Plan("invalid", "unknown ids", st.uuids(version=4).map(str), unknown, max(2, n // 4)),
    ]


def billable_plans(provider: Provider, n: int, image_url: str | None = None) -> list[Plan]:
    flows: list[tuple[str, Any, Any]] = [
        ("job", T.job_requests(), lambda body: lifecycle(provider, body, "job")),
    ]
    if provider.target.callbacks:
        callback = T.job_requests(callback_url=provider.receiver.url)
        flows.append(("job/callback", callback, lambda b: lifecycle(provider, b, "job/callback")))
    return shared_out(provider, flows, n)


def _budget(machine: ProviderMachine) -> bool:
    return machine.provider.budget.left > 0


class ToyRules(ProviderMachine):
    """Make jobs and read them; the shared rules move a manual clock."""

    @precondition(_budget)
    @rule(body=T.job_requests())
    def make(self, body: dict[str, Any]) -> None:
        try:
            made = create(self.provider, body, "stateful job")
        except BudgetSpent:
            made = None
        if made is not None and made.task_id is not None:
            self.ids.append(made.task_id)
        self._after()

    @precondition(lambda self: self.ids)
    @rule(index=INDEX)
    def get(self, index: int) -> None:
        self.provider.exchange(read_case(self._pick(index)))
        self._after()


MACHINE = ToyRules
