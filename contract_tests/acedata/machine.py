"""The AceDataCloud dialect's state machine (`LumaMachine`), run after the phases.

There are no separate invariants to write: every answer goes through the same checks
as the rest of the suite, and those read the run's history, so "states only move
forward", "timestamps never change once set" and "a retrieved result equals the earlier
answer" are checked after every step, across steps. Billable steps cost money, so the
machine is never shrunk or replayed (`provider.stateful.run_machine`).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from ..provider.outcome import BudgetSpent
from ..provider.stateful import INDEX, ProviderMachine
from . import strategies as S
from .flows import memory, remember_video, retrieve, retrieve_batch
from .records import luma_case


class LumaMachine(ProviderMachine):
    """The AceDataCloud dialect's rules: generate, extend (of videos made earlier in the
    run), retrieve, retrieve_batch, an unknown id when nothing is known yet, and — on a
    real clock with the control API — finishing a task by hand."""

    def _submit(self, body: dict[str, Any], label: str) -> None:
        try:
            answer = self.provider.exchange(luma_case("videos", body, label=label))
        except BudgetSpent:
            return
        data = answer.json_or_none()
        if answer.status == 200 and isinstance(data, dict) and isinstance(data.get("task_id"), str):
            self.ids.append(data["task_id"])

    @precondition(lambda self: self.provider.budget.left > 0)
    @rule(body=S.generate_requests(mode="async"))
    def generate(self, body: dict[str, Any]) -> None:
        self._submit(body, "stateful generate/async")
        self._after()

    @precondition(lambda self: self.provider.budget.left > 0 and memory(self.provider).videos)
    @rule(body=S.extend_requests(by="id", mode="async"), index=INDEX)
    def extend(self, body: dict[str, Any], index: int) -> None:
        videos = memory(self.provider).videos
        self._submit({**body, "video_id": videos[index % len(videos)][0]}, "stateful extend/async")
        self._after()

    @precondition(lambda self: self.ids)
    @rule(index=INDEX)
    def retrieve(self, index: int) -> None:
        record = retrieve(self.provider, self._pick(index))
        if record is not None:
            remember_video(self.provider, record.get("response"))
        self._after()

    @precondition(lambda self: self.ids)
    @rule(indexes=st.lists(INDEX, min_size=1, max_size=4), unknown=st.booleans())
    def retrieve_batch(self, indexes: list[int], unknown: bool) -> None:
        ids = [self._pick(i) for i in indexes]
        retrieve_batch(self.provider, [*ids, "luma-mock-verify-unknown"] if unknown else ids)
        self._after()

    @precondition(lambda self: not self.ids)  # the fallback: always something to run
    @rule(task_id=S.identifiers())
    def retrieve_unknown(self, task_id: str) -> None:
        body = {"action": "retrieve", "id": f"luma-mock-verify-unknown-{task_id}"}
        self.provider.exchange(luma_case("tasks", body, label="unknown-id", expect_status=404))
        self._after()

    @precondition(
        lambda self: self.ids and self.provider.control and not self.provider.manual_clock
    )
    @rule(index=INDEX)
    def complete(self, index: int) -> None:
        self.provider.admin("POST", f"/tasks/{self._pick(index)}/complete")
        self._after()
