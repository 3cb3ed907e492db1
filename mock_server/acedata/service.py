"""`LumaService`: a convenience for Python users of the AceDataCloud API in process — a
fake (`engine.fake.Fake`) of its own serving this dialect, and its engine, with the
Python API the fake has always had (``videos``, ``tasks``, ``create_video``, and the
engine's control side). More dialects join its fake with ``luma.fake.add(dialect)``;
nothing in the packages builds on it."""

from __future__ import annotations

from typing import Any

from ..engine.clock import Clock
from ..engine.config import Settings
from ..engine.dialect import Call
from ..engine.errors import ApiError
from ..engine.fake import Fake
from ..engine.scenarios import Outcome
from ..engine.service import Engine
from ..engine.tasks import Task, TaskStore
from .dialect import DIALECT
from .requests import check_request, create_task


class LumaService(Engine):
    """The AceDataCloud Luma video service as the fake plays it: plain Python, no Flask."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        store: TaskStore | None = None,
    ) -> None:
        fake = Fake((), settings, clock=clock)
        super().__init__(fake, DIALECT, store=store)
        fake.attach()

    def videos(
        self, body: Any, *, token: str, base_url: str, scenario: str | None = None
    ) -> dict[str, Any]:
        """``POST /luma/videos``: an immediate ``{"task_id"}`` with callback_url or async,
        otherwise the finished result (held until the task ends or times out)."""
        return self.handle(Call("videos", body, token, base_url, scenario))

    def tasks(self, body: Any, *, token: str, scenario: str | None = None) -> dict[str, Any]:
        """``POST /luma/tasks``: a task's record, or a batch of them."""
        return self.handle(Call("tasks", body, token, scenario=scenario))

    def create_video(
        self, body: Any, *, token: str, base_url: str, outcome: Outcome | None = None
    ) -> Task:
        """Create and schedule one task from a request body (validated here as well, so
        the Python API is as strict as the HTTP one); spends the token's credit."""
        verdict, fields = check_request("videos", body)
        if not verdict.ok:
            raise ApiError("bad_request", verdict.message)
        return create_task(
            self, fields, token=token, base_url=base_url, outcome=outcome, posted=body
        )
