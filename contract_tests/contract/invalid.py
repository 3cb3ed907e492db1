"""`Invalid`: a request that breaks exactly one contract rule, labelled with it — what
every dialect's strategies of broken requests yield (`contract_tests.<dialect>.strategies`)
and what the provider suite sends as a case that must be refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Invalid:
    """A request that breaks exactly one contract rule.

    ``endpoint`` names where it goes in its dialect's words (``videos``; ``video``).
    ``body`` is the JSON value sent (``raw`` is None), or ``raw`` holds bytes that are
    not a JSON document at all. ``expect`` are words the contract's verdict message
    (`contract.check(...).message`) contains for it; empty for raw bodies.
    """

    endpoint: str
    rule: str  # e.g. "prompt-empty", "timeout-not-positive", "body-not-json"
    body: Any = None
    raw: bytes | None = None
    expect: str = ""

    def payload(self) -> bytes:
        """The bytes to send."""
        if self.raw is not None:
            return self.raw
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")
