"""What a client did in one call through an adapter: the requests it really sent
(`Seen`, as the fake's journal or the validating proxy saw them) and the call itself
(`ClientCall`: what the adapter was given, what it was expected to do, what it returned
or raised). The checks of a client (`client`) read these; which checks apply to
a call is decided here (`SHARED_CHECKS`, `CHECKS_BY_EXPECTATION`).

**Billing.** A request *may bill* — may have made a task, and so cost a video — when it
is a ``POST /luma/videos`` that passed validation and the service did not say that no
task was made: a 2xx made one; an answer lost or broken on the way (reset, empty reply,
cut short, malformed, hang) leaves the client unable to know; a 504 ``timeout`` means
the task may be running on (a synchronous call that times out leaves its task going);
an error answer that names its ``task_id`` made one. Every other error answer — 401,
403, 404, 429, 500, 502, 503 — says no task was made, so a retry after it costs
nothing. `ClientCall.billed` lists the requests of a call that may bill.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from .exchanges import Answer, Case

CLIENT = "client"  # the registry's operation for the checks of a client
PROXY_CAP = "proxy-cap"  # the rule of a request the proxy held back (never forwarded)
SHARED_CHECKS = ("request-sent", "request-conforms", "fields-sent", "one-bill-per-call")
CHECKS_BY_EXPECTATION = {
    "answer": ("task-id-matches", "answer-returned"),
    "running": ("no-early-completion", "task-id-matches", "answer-returned"),  # a held task
    "error": ("raises-on-error",),
    "fault": ("raises-on-fault",),
}
MAY_HAVE_MADE_A_TASK = 504  # the one error status that does not say "no task was made"


@dataclass
class Seen:
    """One request the client sent, as the fake's journal (or the proxy) saw it.
    ``fault``: the answer never reached the client whole (a fault of the fake, or the
    target behind the proxy did not answer)."""

    method: str
    path: str
    body: Any
    verdict: dict[str, Any] | None  # schema, ok, problems, unknown_fields
    status: int | None
    answer: Any
    rule: str | None = None
    seq: int = 0
    fault: str | None = None

    @classmethod
    def from_journal(cls, entry: dict[str, Any]) -> Seen:
        return cls(
            entry.get("method", "POST"),
            entry.get("path", ""),
            entry.get("body"),
            entry.get("verdict"),
            entry.get("status"),
            entry.get("answer"),
            entry.get("rule"),
            entry.get("seq", 0),
            entry.get("fault"),
        )

    @property
    def api(self) -> bool:
        return self.path in ("/luma/videos", "/luma/tasks")

    @property
    def may_bill(self) -> bool:
        """Whether this request may have made a task, and so cost a video (the module's
        docstring gives the rule)."""
        if (self.method, self.path) != ("POST", "/luma/videos") or self.rule == PROXY_CAP:
            return False
        if not (self.verdict or {}).get("ok"):
            return False  # refused by validation: no task
        if self.fault is not None or self.status is None:
            return True  # the answer was lost: the client cannot know whether a task exists
        if 200 <= self.status < 300 or self.status == MAY_HAVE_MADE_A_TASK:
            return True
        return isinstance(self.answer, dict) and bool(self.answer.get("task_id"))

    def outcome(self) -> str:
        """How this request was answered, in a few words: ``200 (task abc)``,
        ``the answer was lost (reset)``."""
        if self.fault is not None:
            return f"the answer was lost ({self.fault})"
        if self.status is None:
            return "no answer yet"
        task = self.answer.get("task_id") if isinstance(self.answer, dict) else None
        return f"{self.status}" + (f" (task {task})" if task else "")

    def problem(self, refusal_expected: bool = False) -> str | None:
        """What is wrong with this request by the contract, if anything. A 400 that no
        rule of the suite asked for means the service could not take it, and so does a 404
        on /luma/videos (a video_id it never made) — unless the call was meant to be
        refused."""
        unknown_path = self.status == 404 and not self.api
        if (unknown_path or self.status == 405) and self.rule is None:
            return f"the service has no {self.method} {self.path} ({_error_text(self.answer)})"
        if not self.api or self.status is None:
            return None
        if self.verdict is None:
            return f"refused before it could be read: {self.status} {_error_text(self.answer)}"
        if not self.verdict.get("ok"):
            return f"{self.verdict.get('schema')}: " + "; ".join(self.verdict.get("problems", []))
        refused = self.status == 400 or (self.status == 404 and self.path == "/luma/videos")
        if refused and self.rule is None and not refusal_expected:
            return f"the service refused it: {self.status} {_error_text(self.answer)}"
        return None

    def curl(self, base_url: str) -> str:
        parts = ["curl -s", "-X", self.method, shlex.quote(base_url + self.path)]
        parts += ["-H", shlex.quote("authorization: Bearer $TOKEN")]
        if self.body is not None:
            body = self.body if isinstance(self.body, str) else json.dumps(self.body)
            parts += ["-H", "'content-type: application/json'", "-d", shlex.quote(body)]
        return " ".join(parts)


def _error_text(answer: Any) -> str:
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict):
        return f"{error.get('code')}: {error.get('message')}"
    return json.dumps(answer)[:120] if answer is not None else "no answer"


@dataclass
class ClientCall(Case):
    """One call through the adapter: what it was given, what it was expected to do,
    the requests it made, and what it returned or raised."""

    call: str = ""  # generate, extend or retrieve
    fields: dict[str, Any] = field(default_factory=dict)
    expect: str = "answer"  # answer, running (a held task), error or fault
    sent: list[Seen] = field(default_factory=list)
    returned: Any = None
    raised: BaseException | None = None
    in_time: bool = True  # it returned or raised within `bound` seconds
    bound: float = 0.0
    error_code: str | None = None
    fault: str | None = None
    setup: list[dict[str, Any]] = field(default_factory=list)  # rules of the example
    before: list[str] = field(default_factory=list)  # the example's steps before this call

    def last(self) -> Seen | None:
        """The last request to the call's endpoint (after any retries)."""
        return next((s for s in reversed(self.sent) if s.path == self.path), None)

    def answer(self) -> Answer:
        seen = self.last()
        if seen is None or seen.status is None:
            return Answer(0)
        content = seen.answer if isinstance(seen.answer, str) else json.dumps(seen.answer)
        return Answer(seen.status, {"content-type": "application/json"}, content.encode())

    @property
    def bills_allowed(self) -> int:
        """Requests that may bill that this call may make: one to generate or extend,
        none to retrieve."""
        return 0 if self.call == "retrieve" else 1

    def billed(self) -> list[Seen]:
        """The requests of this call that may have made a task (see `Seen.may_bill`)."""
        return [s for s in self.sent if s.may_bill]

    def expected_body(self) -> dict[str, Any]:
        """The fields the request must carry (callback_url has a check of its own)."""
        if self.call == "retrieve":
            return {"action": "retrieve", "id": self.fields["task_id"]}
        wanted = {k: v for k, v in self.fields.items() if k != "callback_url"}
        return {"action": self.call, **wanted}

    def checks(self) -> tuple[str, ...]:
        """The checks that apply to this call, in the order they run."""
        callback = ("callback-url-sent",) if "callback_url" in self.fields else ()
        return SHARED_CHECKS + callback + CHECKS_BY_EXPECTATION[self.expect]

    def unknown_fields(self) -> list[str]:
        return [
            f"{s.method} {s.path} sends field(s) the contract does not know: "
            f"{', '.join(s.verdict['unknown_fields'])} (the service ignores them)"
            for s in self.sent
            if s.verdict and s.verdict.get("unknown_fields")
        ]
