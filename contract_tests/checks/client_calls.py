"""What a client did in one call through an adapter, whatever API it speaks: the
requests it really sent (`Seen`, as the fake's journal or the validating proxy saw them,
headers and arrival time included) and the call itself (`ClientCall`: what the adapter
was given, what it was expected to do, what it returned or raised). The checks of a
client (`client`, and each dialect's ``client`` module) read these.

**Billing.** Which request *may bill* — may have started a paid generation — is the
dialect's rule (its ``client`` module's ``may_bill(seen)``, found through the registry);
what every dialect shares is this: an answer lost on the way (reset, empty reply, cut
short, hang) leaves the client unable to know, so such a request may bill. A call that
makes more requests that may bill than it is allowed (`ClientCall.bills_allowed`) either
breaks the contract — a second one after an answer that said a generation was made — or,
when every extra one follows a lost answer, is a *billing risk* (`BillingRisk`): a blind
retry without an idempotency key, which may pay twice. The report keeps the two apart.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from ..contract.packs import default_pack, pack, pack_for_path
from ..payments.challenge import PAYMENT_SIGNATURE, decode
from .exchanges import Answer, Case, CheckFailure

CLIENT = "client"  # the registry's operation for the checks of a client
PROXY_CAP = "proxy-cap"  # the rule of a request the proxy held back (never forwarded)
DELIVERED = frozenset({"dribble"})  # faults whose answer still arrives whole (slowly)
PAYMENT_HEADER = PAYMENT_SIGNATURE.lower()


class BillingRisk(CheckFailure):
    """A call that may have paid more than once because it retried blind, after an
    answer it never got: not a break of the contract's words, but money at stake."""


@dataclass
class Seen:
    """One request the client sent, as the fake's journal (or the proxy) saw it, and the
    answer it got. ``fault``: the answer never reached the client whole (a fault of the
    fake, or the target behind the proxy did not answer). ``arrived``: when it arrived
    (wall-clock seconds; None when unknown). ``dialect``: the API it speaks (by default,
    the one whose prefix its path is under)."""

    method: str
    path: str  # without the query
    body: Any
    verdict: dict[str, Any] | None  # schema, ok, problems, unknown_fields
    status: int | None
    answer: Any
    rule: str | None = None
    seq: int = 0
    fault: str | None = None
    task_id: str | None = None  # the task (generation) it made or asked about
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    arrived: float | None = None
    answer_headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    dialect: str = ""
    payment: dict[str, Any] | None = None  # the gateway's record of its payment (x402)

    @classmethod
    def from_journal(cls, entry: dict[str, Any], dialect: str = "") -> Seen:
        path, _, query = str(entry.get("path", "")).partition("?")
        return cls(
            entry.get("method", "POST"),
            path,
            entry.get("body"),
            entry.get("verdict"),
            entry.get("status"),
            entry.get("answer"),
            entry.get("rule"),
            entry.get("seq", 0),
            entry.get("fault"),
            entry.get("task_id"),
            _query(entry.get("query") or query),
            _lower(entry.get("headers")),
            entry.get("arrived"),
            _lower(entry.get("answer_headers")),
            dialect,
            entry.get("payment"),
        )

    @property
    def speaks(self) -> str:
        """The dialect of this request."""
        if self.dialect:
            return self.dialect
        return (pack_for_path(self.path) or default_pack()).name

    @property
    def route(self) -> str:
        """The path under the dialect's prefix."""
        return pack(self.speaks).route(self.path)

    @property
    def lost(self) -> bool:
        """Whether its answer never reached the client whole."""
        return (self.fault is not None and self.fault not in DELIVERED) or self.status is None

    @property
    def may_bill(self) -> bool:
        """Whether it may have started a paid generation (the dialect's rule)."""
        if self.rule == PROXY_CAP:
            return False  # held back by the proxy: never reached the service
        rule: Any = pack(self.speaks).load("client").may_bill
        return bool(rule(self))

    @property
    def paid(self) -> bool:
        """Whether it carried a payment (an x402 ``PAYMENT-SIGNATURE`` header)."""
        return PAYMENT_HEADER in self.headers

    def envelope(self) -> dict[str, Any] | None:
        """The payment it carried, decoded (None: none, or not base64 JSON of an object)."""
        if not self.paid:
            return None
        try:
            found = decode(self.headers[PAYMENT_HEADER])
        except ValueError:
            return None
        return found if isinstance(found, dict) else None

    def wait_asked(self) -> float | None:
        """Seconds the answer asked the client to wait before retrying, if it did."""
        for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
            try:
                return float(self.answer_headers[name]) * scale
            except (KeyError, ValueError):
                continue
        return None

    def outcome(self) -> str:
        """How this request was answered, in a few words: ``200 (task abc)``,
        ``the answer was lost (reset)``."""
        if self.lost and self.fault is not None:
            return f"the answer was lost ({self.fault})"
        if self.status is None:
            return "no answer yet"
        task = self.task_id
        if task is None and isinstance(self.answer, dict):
            task = self.answer.get("task_id")
        return f"{self.status}" + (f" (task {task})" if task else "")

    def curl(self, base_url: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.query.items())
        url = base_url + self.path + (f"?{query}" if query else "")
        parts = ["curl -s", "-X", self.method, shlex.quote(url)]
        if not self.paid or "authorization" in self.headers:  # a paying client may send none
            parts += ["-H", shlex.quote("authorization: Bearer $TOKEN")]
        if self.paid:
            payment = f"{PAYMENT_SIGNATURE}: {self.headers[PAYMENT_HEADER]}"
            parts += ["-H", shlex.quote(payment)]
        if self.body is not None:
            body = self.body if isinstance(self.body, str) else json.dumps(self.body)
            parts += ["-H", "'content-type: application/json'", "-d", shlex.quote(body)]
        return " ".join(parts)


def _query(text: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(text))


def _lower(headers: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}


@dataclass
class ClientCall(Case):
    """One call through the adapter: what it was given, what it was expected to do,
    the requests it made, and what it returned or raised. ``method`` and ``path`` (under
    the dialect's prefix) name the request the call is about; ``bills_allowed`` how many
    requests that may bill it may make."""

    call: str = ""  # the adapter's method
    fields: dict[str, Any] = field(default_factory=dict)
    expect: str = "answer"  # answer, running, error, failed, either or fault (the dialect's)
    sent: list[Seen] = field(default_factory=list)
    returned: Any = None
    raised: BaseException | None = None
    in_time: bool = True  # it returned or raised within `bound` seconds
    bound: float = 0.0
    error_code: str | None = None
    fault: str | None = None
    token: str = ""
    bills_allowed: int = 0
    setup: list[dict[str, Any]] = field(default_factory=list)  # rules of the example
    before: list[str] = field(default_factory=list)  # the example's steps before this call
    x402: bool = False  # made with a payer and no token, against a gateway: it must pay
    refusal: str | None = None  # the reason the gateway was told to refuse its payment

    def wanted(self, seen: Seen) -> bool:
        """Whether ``seen`` is a request to this call's endpoint."""
        return seen.method == self.method and seen.route == self.path

    def last(self) -> Seen | None:
        """The last request to the call's endpoint (after any retries)."""
        return next((s for s in reversed(self.sent) if self.wanted(s)), None)

    def answer(self) -> Answer:
        seen = self.last()
        if seen is None or seen.status is None:
            return Answer(0)
        content = seen.answer if isinstance(seen.answer, str) else json.dumps(seen.answer)
        headers = {"content-type": "application/json", **seen.answer_headers}
        return Answer(seen.status, headers, content.encode())

    def billed(self) -> list[Seen]:
        """The requests of this call that may have started a paid generation."""
        return [s for s in self.sent if s.may_bill]

    def unknown_fields(self) -> list[str]:
        return [
            f"{s.method} {s.path} sends field(s) the contract does not know: "
            f"{', '.join(s.verdict['unknown_fields'])} (the service ignores them)"
            for s in self.sent
            if s.verdict and s.verdict.get("unknown_fields")
        ]
