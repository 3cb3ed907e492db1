"""The Dream Machine state machine: creates (video, image), get, list pages, delete,
upscale and audio of finished generations, and — where the target's clock can be moved
— advancing time, completing and failing generations by hand.

As in `stateful`, the invariants are the checks: every answer goes through the
registry, whose ``dm-*`` checks read the run's history — states only move forward, set
fields never change, a deleted generation is 404 and never listed again, a page agrees
with its count. Creates cost money: the machine is neither shrunk nor replayed.
Upscale and audio are one rule each on `dm_plans.derive`; they run only on a target
that serves them (`Provider.dm_derived`).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from ..contract.strategies import dream_machine as D
from . import dm_plans as P
from .outcome import BudgetSpent
from .stateful import INDEX, ProviderMachine, run_machine

if TYPE_CHECKING:
    from .runner import Provider


def _budget(machine: DreamMachineRules) -> bool:
    return machine.provider.budget.left > 0


def _derivable(machine: DreamMachineRules) -> bool:
    return _budget(machine) and machine.provider.dm_derived and bool(machine.provider.dm_completed)


class DreamMachineRules(ProviderMachine):
    """The Dream Machine dialect's machine (see `run_dm_machine`)."""

    def _create(self, kind: str, body: dict[str, Any]) -> None:
        try:
            made = P.create(self.provider, kind, body, f"stateful create-{kind}")
        except BudgetSpent:
            made = None
        if made is not None:
            self.ids.append(made)
        self._after()

    @precondition(_budget)
    @rule(body=D.video_requests())
    def create_video(self, body: dict[str, Any]) -> None:
        self._create("video", body)

    @precondition(_budget)
    @rule(body=D.image_requests())
    def create_image(self, body: dict[str, Any]) -> None:
        self._create("image", body)

    @precondition(lambda self: _budget(self) and self.provider.dm_more_creates)
    @rule(pick=INDEX, data=st.data())
    def create_more(self, pick: int, data: st.DataObject) -> None:
        kinds = self.provider.dm_more_creates  # reframe and modify, where served
        kind = kinds[pick % len(kinds)]
        self._create(kind, data.draw(P.MORE_CREATES[kind]))

    @precondition(lambda self: self.ids)
    @rule(index=INDEX)
    def get(self, index: int) -> None:
        generation_id = self._pick(index)
        gone = generation_id in self.provider.ctx.history.deleted
        answer = self.provider.exchange(P.get_case(generation_id, 404 if gone else 200))
        body = answer.json_or_none()
        done = self.provider.dm_completed
        completed = isinstance(body, dict) and body.get("state") == "completed"
        if completed and generation_id not in done:
            done.append(generation_id)
        self._after()

    @rule(limit=st.none() | st.integers(0, 12), offset=st.none() | st.integers(0, 12))
    def list_page(self, limit: int | None, offset: int | None) -> None:
        self.provider.exchange(P.list_case(limit, offset))
        self._after()

    @precondition(lambda self: self.ids)
    @rule(index=INDEX)
    def delete(self, index: int) -> None:
        generation_id = self._pick(index)
        P.delete(self.provider, generation_id)
        if generation_id in self.provider.dm_completed:
            self.provider.dm_completed.remove(generation_id)
        self._after()

    def _derive(self, operation: str, index: int, body: dict[str, Any]) -> None:
        done = self.provider.dm_completed
        with contextlib.suppress(BudgetSpent):
            P.derive(self.provider, operation, done[index % len(done)], body)
        self._after()

    @precondition(_derivable)
    @rule(index=INDEX, body=P.DERIVE_BODIES["upscale"])
    def upscale(self, index: int, body: dict[str, Any]) -> None:
        self._derive("upscale", index, body)

    @precondition(_derivable)
    @rule(index=INDEX, body=P.DERIVE_BODIES["audio"])
    def audio(self, index: int, body: dict[str, Any]) -> None:
        self._derive("audio", index, body)

    @precondition(lambda self: self.provider.manual_clock)
    @rule(seconds=st.sampled_from((0.5, 1.0, 2.0, 5.0, 30.0, 61.0, 120.0)))
    def advance(self, seconds: float) -> None:
        self.provider.advance(seconds)
        self._after()

    @precondition(lambda self: self.ids and self.provider.control is not None)
    @rule(index=INDEX, failed=st.booleans())
    def finish(self, index: int, failed: bool) -> None:
        generation_id = self._pick(index)
        if failed:
            self.provider.admin("POST", f"/tasks/{generation_id}/fail", {"code": "api_error"})
        else:
            self.provider.admin("POST", f"/tasks/{generation_id}/complete")
        self._after()


def run_dm_machine(provider: Provider, base: settings, examples: int, seed: int | None) -> None:
    """Run the machine as `stateful.run_machine` runs the AceDataCloud one."""
    run_machine(provider, base, examples, seed, DreamMachineRules)
