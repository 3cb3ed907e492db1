"""One exchange seen by the validating proxy: the `Exchange` (request, answer, and a
`BodyVerdict` on each side) and how a body is checked against a schema (`check_body`).
Which schema a request and its answer must match, and the error body the proxy answers
with itself, are each dialect's (its ``consumer`` module: `dialect.ConsumerDialect`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ..contract import schema as contract


@dataclass
class BodyVerdict:
    """The contract's word on one body: the schema used (None: not checked), problems,
    and fields the schema does not know (worth a look, not a failure)."""

    schema: str | None = None
    problems: list[str] = field(default_factory=list)
    unknown_fields: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Exchange:
    """One request through the proxy, what came back, and the contract's verdicts."""

    at: float
    method: str
    path: str
    status: int
    request: Any  # the body as JSON, or text when it is not JSON
    answer: Any
    request_verdict: BodyVerdict
    answer_verdict: BodyVerdict
    forwarded: bool = True
    billable: bool = False
    note: str = ""  # capped, or why the target did not answer
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.request_verdict.ok and self.answer_verdict.ok

    def verdict(self) -> str:
        if not self.forwarded:
            return f"capped: {self.note}"
        drift = [
            f"{side} drift ({v.schema}): {'; '.join(v.problems)}"
            for side, v in (("request", self.request_verdict), ("answer", self.answer_verdict))
            if not v.ok
        ]
        if drift:
            return "DRIFT " + " | ".join(drift)
        unknown = self.request_verdict.unknown_fields + self.answer_verdict.unknown_fields
        text = "ok" if self.request_verdict.schema or self.answer_verdict.schema else "-"
        if unknown:
            text += f" (unknown fields: {', '.join(unknown)})"
        return text + (f" ({self.note})" if self.note else "")

    def line(self) -> str:
        """``POST /generations/video 201 ok`` — method, path, status, verdict."""
        return f"{self.method} {self.path} {self.status} {self.verdict()}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


# -- checking a body ------------------------------------------------------------------------


def check_body(schema: str, payload: Any) -> BodyVerdict:
    """The contract's word on ``payload`` by the schema ``schema``."""
    verdict = contract.check(schema, payload)
    return BodyVerdict(schema, [str(p) for p in verdict.problems], list(verdict.unknown_fields))


def check_answer(schema: str | None, answer: Any, is_json: bool) -> BodyVerdict:
    """The contract's word on an answer by ``schema`` (None: none applies, so no word);
    an answer that is not JSON breaks any schema."""
    if schema is None:
        return BodyVerdict()
    if not is_json:
        return BodyVerdict(schema, [f"the answer is not JSON: {str(answer)[:80]!r}"])
    return check_body(schema, answer)


def parse(raw: bytes) -> tuple[Any, bool]:
    """A body as JSON (and True), or as text (and False) when it is not JSON."""
    if not raw:
        return None, False
    try:
        return json.loads(raw), True
    except ValueError:
        return raw[:2000].decode("utf-8", "replace"), False
