"""What a Dream Machine client did in one call through an adapter: every request as
the fake heard it, headers and arrival time included (`Heard`), and the call itself
(`DmCall`: its method and arguments, what it was expected to do, what it returned or
raised). The checks of a Dream Machine client (`dm_client`) read these."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from ..contract.packs import pack as dialect
from .exchanges import Case

DREAM_MACHINE = "dream-machine"

DM_CLIENT = "dm-client"  # the registry's operation for the checks of a DM client
PREFIX = dialect(DREAM_MACHINE).path_prefix
CREATES = {"create_video": "/generations/video", "create_image": "/generations/image"}


@dataclass
class Heard:
    """One request the client sent, as the fake heard it, and the answer it got."""

    method: str
    path: str  # without the query
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: Any
    at: float  # when it arrived (monotonic seconds)
    status: int | None = None
    answer_headers: dict[str, str] = field(default_factory=dict)
    answer: Any = None

    @property
    def route(self) -> str:
        """The path under the dialect's prefix (the SDKs' mocks serve at the root)."""
        return self.path[len(PREFIX) :] if self.path.startswith(PREFIX) else self.path

    @property
    def is_create(self) -> bool:
        return self.method == "POST" and dialect(DREAM_MACHINE).is_billable("POST", self.path)

    @property
    def may_bill(self) -> bool:
        return self.is_create and (self.status is None or 200 <= self.status < 300)

    def wait_asked(self) -> float | None:
        """Seconds the answer asked the client to wait before retrying, if it did."""
        headers = self.answer_headers
        for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
            try:
                return float(headers[name]) * scale
            except (KeyError, ValueError):
                continue
        return None

    def curl(self, base_url: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.query.items())
        url = base_url + self.path + (f"?{query}" if query else "")
        parts = [
            "curl -s",
            "-X",
            self.method,
            shlex.quote(url),
            "-H",
            "'authorization: Bearer $TOKEN'",
        ]
        if self.body is not None:
            body = self.body if isinstance(self.body, str) else json.dumps(self.body)
            parts += ["-H", "'content-type: application/json'", "-d", shlex.quote(body)]
        return " ".join(parts)


@dataclass
class DmCall(Case):
    """One call through a Dream Machine adapter: its method and arguments, what the
    suite set up, the requests heard, and what came of it."""

    call: str = ""  # create_video, create_image, get, list, delete, wait
    fields: dict[str, Any] = field(default_factory=dict)
    expect: str = "answer"  # answer, error, failed, either (an error the client may retry past)
    token: str = ""
    heard: list[Heard] = field(default_factory=list)
    returned: Any = None
    raised: BaseException | None = None
    in_time: bool = True
    setup: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.operation, self.dialect = DM_CLIENT, DREAM_MACHINE

    def wanted(self, seen: Heard) -> bool:
        """Whether ``seen`` is a request to this call's endpoint."""
        if self.call in CREATES:
            return seen.method == "POST" and seen.route == CREATES[self.call]
        if self.call == "list":
            return seen.method == "GET" and seen.route == "/generations"
        one = f"/generations/{self.fields.get('generation_id')}"
        method = "DELETE" if self.call == "delete" else "GET"
        return seen.method == method and seen.route == one

    def last(self) -> Heard | None:
        return next((s for s in reversed(self.heard) if self.wanted(s)), None)
