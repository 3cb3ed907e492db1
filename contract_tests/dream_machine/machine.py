"""The Dream Machine state machine: creates (video, image, and reframe and modify where
served), get, list pages, delete, upscale and audio of completed videos, and — where the
target's control API answers — completing and failing generations by hand (moving a
manual clock is every machine's rule: `ProviderMachine`).

The invariants are the checks: every answer goes through the registry, whose checks
read the run's history — states only move forward, set fields never change, a deleted
generation is 404 and never listed again, a page agrees with its count. Creates cost
money: the machine is neither shrunk nor replayed. Upscale and audio are one rule each
on `flows.derive`; they run only on a target that serves them (`flows.Memory.derived`).
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from ..provider.outcome import BudgetSpent
from ..provider.stateful import INDEX, ProviderMachine
from . import flows as P
from . import strategies as D
from .flows import memory


def _budget(machine: DreamMachineRules) -> bool:
    return machine.provider.budget.left > 0


def _derivable(machine: DreamMachineRules) -> bool:
    done = memory(machine.provider)
    return _budget(machine) and done.derived and bool(done.completed)


class DreamMachineRules(ProviderMachine):
    """The Dream Machine dialect's rules (see the module's docstring)."""

    def _create(self, kind: str, body: dict[str, Any]) -> None:
        try:
            made = P.create(self.provider, kind, body, f"stateful create-{kind}")
        except BudgetSpent:
            made = None
        if made is not None and made.task_id is not None:
            self.ids.append(made.task_id)
        self._after()

    @precondition(_budget)
    @rule(body=D.video_requests())
    def create_video(self, body: dict[str, Any]) -> None:
        self._create("video", body)

    @precondition(_budget)
    @rule(body=D.image_requests())
    def create_image(self, body: dict[str, Any]) -> None:
        self._create("image", body)

    @precondition(lambda self: _budget(self) and memory(self.provider).more_creates)
    @rule(pick=INDEX, data=st.data())
    def create_more(self, pick: int, data: st.DataObject) -> None:
        kinds = memory(self.provider).more_creates  # reframe and modify, where served
        kind = kinds[pick % len(kinds)]
        self._create(kind, data.draw(P.MORE_CREATES[kind]))

    @precondition(lambda self: self.ids)
    @rule(index=INDEX)
    def get(self, index: int) -> None:
        generation_id = self._pick(index)
        gone = generation_id in self.provider.ctx.history.deleted
        answer = self.provider.exchange(P.get_case(generation_id, 404 if gone else 200))
        P.remember(self.provider, answer.json_or_none())
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
        self._after()

    def _derive(self, operation: str, index: int, body: dict[str, Any]) -> None:
        done = memory(self.provider).completed
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

    @precondition(lambda self: self.ids and self.provider.control is not None)
    @rule(index=INDEX, failed=st.booleans())
    def finish(self, index: int, failed: bool) -> None:
        generation_id = self._pick(index)
        if failed:
            self.provider.admin("POST", f"/tasks/{generation_id}/fail", {"code": "api_error"})
        else:
            self.provider.admin("POST", f"/tasks/{generation_id}/complete")
        self._after()
