"""What the contract suites send and what comes back: a `Case` (one request and what
the contract says about it), an `Answer` (status, headers, raw content), and the
`CheckFailure` a check raises when the contract does not hold (`CheckFailures` when
several fail on one exchange; `fail` raises one from inside a check).

These are the nouns every suite shares — the provider suite's checks and runner, the
consumer suite, the report and the recorder — so they live apart from any one of them,
with nothing to import but the standard library.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..contract.packs import default_pack

# The operations every dialect shares: a body a server POSTed to our receiver (the case
# is the request that asked for it), and the end of a wait for a task (the provider's).
CALLBACK, WAIT = "callback", "wait"


@dataclass
class Case:
    """One request of the suite, and what the contract says about it.

    ``body`` is the JSON value to send, unless ``raw`` holds the exact bytes (malformed
    bodies). ``auth`` says which Authorization header goes with it: ``valid`` (the
    target's token), ``missing``, ``malformed`` (not a bearer token) or ``wrong``.
    ``label`` is the shape (``generate-first/async``) or the rule broken
    (``prompt-empty``); ``valid`` whether the contract accepts the body;
    ``expect_status`` pins the one status the contract gives (404 for an unknown id).
    """

    operation: str  # in its dialect's words ("videos", "get"), or "callback", "wait"
    body: Any = None
    raw: bytes | None = None
    method: str = "POST"
    path: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    auth: str = "valid"
    label: str = ""
    valid: bool = True
    expect_status: int | None = None
    task_id: str | None = None  # the task the case is about, once known
    # Which API the case speaks (a pack's name); the one served at the root unless told.
    dialect: str = field(default_factory=lambda: default_pack().name)

    def payload(self) -> bytes | None:
        """The bytes of the body as sent."""
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return None
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


@dataclass
class Answer:
    """What came back: status, headers (names in lower case) and the raw content."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes = b""
    elapsed: float = 0.0

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The body as JSON; ValueError if it is not."""
        return json.loads(self.content.decode("utf-8"))

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except ValueError:
            return None

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class CheckFailure(AssertionError):
    """A check that did not hold: which check, what it expected, what came, and the
    case and answer that showed it (enough to print a curl line)."""

    def __init__(
        self,
        title: str,
        *,
        expected: str = "",
        actual: str = "",
        check: str = "",
        case: Case | None = None,
        answer: Answer | None = None,
    ) -> None:
        super().__init__(title)
        self.title = title
        self.expected = expected
        self.actual = actual
        self.check = check
        self.case = case
        self.answer = answer
        self.reproduce: str = ""  # Hypothesis' seed or @reproduce_failure, when known

    def __str__(self) -> str:
        parts = [f"[{self.check}] {self.title}" if self.check else self.title]
        if self.expected:
            parts.append(f"expected: {self.expected}")
        if self.actual:
            parts.append(f"actual: {self.actual}")
        return "\n".join(parts)


class CheckFailures(AssertionError):
    """Several checks failed on one exchange (raised by `assert_checks`)."""

    def __init__(self, failures: list[CheckFailure]) -> None:
        super().__init__("\n".join(str(f) for f in failures))
        self.failures = failures


def fail(title: str, *, expected: Any = "", actual: Any = "") -> None:
    """Raise the failure of the check that is running; `run_checks` names it."""
    raise CheckFailure(title, expected=_text(expected), actual=_text(actual))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 300 else text[:297] + "..."
