"""Where the suite reads what a client sent: the fake's journal (`FakeJournal`), or a
validating proxy's records in front of the real service (`ProxyJournal`) — each as the
one "request seen" type, `Seen`."""

from __future__ import annotations

from typing import Protocol

from ..checks.client_calls import PROXY_CAP, Seen
from .fake import FakeControl
from .proxy import ValidatingProxy
from .verdicts import Exchange

SETUP_RULE = "consumer-setup"  # the rule that marks the suite's own requests


class Journal(Protocol):
    def start(self) -> None: ...

    def new(self) -> list[Seen]: ...


class FakeJournal:
    """What the client sent, from the fake's journal (the suite's own requests left out)."""

    def __init__(self, fake: FakeControl, dialect: str) -> None:
        self.fake, self.dialect = fake, dialect
        self.seen = 0

    def start(self) -> None:
        self.seen = 0  # the fake was just reset

    def new(self) -> list[Seen]:
        found = self.fake.journal(self.seen, self.dialect)
        if found:
            self.seen = max(s.seq for s in found)
        return [s for s in found if s.rule != SETUP_RULE]


class ProxyJournal:
    """The same, from a validating proxy's records (in front of the real service)."""

    def __init__(self, proxy: ValidatingProxy, dialect: str) -> None:
        self.proxy, self.dialect = proxy, dialect
        self.seen = len(proxy.exchanges)

    def start(self) -> None:
        self.seen = len(self.proxy.exchanges)

    def new(self) -> list[Seen]:
        exchanges = self.proxy.exchanges
        found = [self._seen(x, i + 1) for i, x in enumerate(exchanges)][self.seen :]
        self.seen = len(exchanges)
        return found

    def _seen(self, exchange: Exchange, seq: int) -> Seen:
        checked = exchange.request_verdict
        verdict = None
        if checked.schema is not None:
            verdict = {
                "schema": checked.schema,
                "ok": checked.ok,
                "problems": checked.problems,
                "unknown_fields": checked.unknown_fields,
            }
        rule = None if exchange.forwarded else PROXY_CAP  # the cap's 429 is not the client's
        # A forwarded request with a note got the proxy's own 502: the target did not answer.
        fault = exchange.note if exchange.forwarded and exchange.note else None
        return Seen(
            exchange.method,
            exchange.path,
            exchange.request,
            verdict,
            exchange.status,
            exchange.answer,
            rule,
            seq,
            fault,
            dialect=self.dialect,
        )
