"""What the consumer suite asks of a dialect, and the nouns they share.

A dialect's half of the consumer suite is three modules of its pack's suite package
(``contract_tests/<dialect>/``), each found through the registry: ``consumer``
(`ConsumerDialect`: its cases, its adapters, how a call is made; `consumer_of`),
``client`` (`ClientRules`: its client checks, registered as it loads, and its billing
rule; `client_of`) and ``verdicts`` (`ProxyVerdicts`: what the validating proxy says of
an exchange; `verdicts_of`); the recording proxy also reads ``recording``
(`RecordingRules`: tasks, states, callback URLs and media in its traffic; `recording_of`).
Everything else — the stage (`fake`), the runs (`run`), the
suite under Hypothesis (`suite`), the report, the proxy — is the same for every dialect
and never names one.

A case (`ConsumerCase`) puts the client in one situation: an answer, a task held while
it is polled, a documented error, a fault below HTTP (`FAULTS`: every dialect plays
each of them on the fake's own server). It draws its requests from the contract and
plays its calls through a `run.ClientRun`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from hypothesis import strategies as st

from ..checks.client_calls import ClientCall, Seen
from ..contract.packs import pack
from .verdicts import BodyVerdict

if TYPE_CHECKING:
    from .run import ClientRun

# Faults below HTTP, as the fake's server plays them (`mock_server.engine.faults`): a
# dribble still delivers the whole answer (slowly), every other kind loses it.
FAULTS = ("reset", "empty", "malformed_json", "truncated", "dribble", "hang")


def fault_expectation(kind: str) -> str:
    """What a client must do on this fault: return the answer a dribble delivers whole,
    raise on the others."""
    return "answer" if kind == "dribble" else "fault"


# factory(base_url, token) -> adapter; one that also takes ``payer=`` is given a payer
# (`contract_tests.payments.Payer`) and no token for the x402 situations.
AdapterFactory = Callable[..., Any]


@dataclass(frozen=True)
class ConsumerCase:
    """One situation the client is put in; ``play`` makes its calls (checks included).
    ``operation``: the adapter method it needs (the case is skipped without it);
    ``kind``: flow, error or fault (its example budget); ``x402``: a situation of a
    client that pays per call (run with ``x402=True``, on a gateway)."""

    name: str
    operation: str
    kind: str
    requests: Callable[[ClientRun], st.SearchStrategy[dict[str, Any]]]
    play: Callable[[ClientRun, dict[str, Any]], None]
    x402: bool = False


@dataclass(frozen=True)
class CallShape:
    """How one adapter call is made, and the request it is about: ``args``/``kwargs``
    for the adapter's method; ``method`` and ``path`` (under the dialect's prefix) of
    its request; how many requests that may bill it may make."""

    method: str
    path: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    bills_allowed: int = 0


class ConsumerDialect(Protocol):
    """The module ``contract_tests/<dialect>/consumer.py`` (module attributes):

    - ``OPERATIONS``: the adapter's methods the cases call, in the suite's order;
    - ``load_factory(spec, client_timeout)``: an adapter factory by name — a built-in
      adapter's (``lumaai``) or ``module:callable`` (`adapters.load_factory`);
    - ``cases()``: its situations, in the order they run;
    - ``shape(operation, fields)``: how a call is made (`CallShape`; a report shows the
      call as a line of Python from its arguments);
    - ``real_plays(run, factory, base_url)``: the few calls made against the real
      service (they cost credits), as (name, kind, operation, play).
    """

    OPERATIONS: tuple[str, ...]

    def load_factory(self, spec: str, client_timeout: float) -> AdapterFactory: ...

    def cases(self) -> list[ConsumerCase]: ...

    def shape(self, operation: str, fields: dict[str, Any]) -> CallShape: ...

    def real_plays(
        self, run: ClientRun, factory: AdapterFactory, base_url: str
    ) -> list[tuple[str, str, str, Callable[[], None]]]: ...


class ClientRules(Protocol):
    """The module ``contract_tests/<dialect>/client.py``: it registers the dialect's
    client checks (operation ``client``, ``dialects=(its name,)``) as it loads, and says

    - ``CHECKS``: every client check of the dialect (its own and the shared ones of
      `contract_tests.checks.client`), in the report's order;
    - ``checks_for(call)``: those that apply to one call;
    - ``may_bill(seen)``: whether a request may have started a paid generation
      (`contract_tests.checks.client_calls`);
    - optionally ``request_conforms``, ``fields_sent``, ``raises_on_error`` and
      ``answer_returned``, each ``(call, answer)``: its judgement for the shared check
      of that name (`contract_tests.checks.client`) — raise with ``fail``, or return
      ``SKIPPED``; without one, that check skips the dialect's calls.
    """

    CHECKS: tuple[str, ...]

    def checks_for(self, call: ClientCall) -> tuple[str, ...]: ...

    def may_bill(self, seen: Seen) -> bool: ...


class ProxyVerdicts(Protocol):
    """The module ``contract_tests/<dialect>/verdicts.py``: what the validating proxy
    says of a request and of its answer, and its own error body in the dialect's shape."""

    def request_verdict(self, method: str, path: str, body: Any) -> BodyVerdict: ...

    def answer_verdict(
        self,
        method: str,
        path: str,
        request: Any,
        status: int,
        answer: Any,
        is_json: bool,
        raw: bytes,
    ) -> BodyVerdict: ...

    def error_body(self, code: str, message: str) -> dict[str, Any]: ...


class RecordingRules(Protocol):
    """The module ``contract_tests/<dialect>/recording.py``: what the recording proxy
    (`recorder`) reads of the dialect's traffic to write a cassette. States are the
    cassette's: ``pending``, ``processing``, ``completed``, ``failed`` (None: unknown).

    - ``task_of(method, path, request, status, answer)``: the task an exchange made or
      asked about, and its state as the answer shows it;
    - ``callback_key(method, path)``: the request body's key that holds the client's
      callback URL on that call (None: the call takes none);
    - ``callback_task(body)``: the task a callback body is about, and its state;
    - ``media_of(answer)``: (task, URL) of each media file of a finished task an answer
      or a callback body shows.
    """

    def task_of(
        self, method: str, path: str, request: Any, status: int, answer: Any
    ) -> tuple[str | None, str | None]: ...

    def callback_key(self, method: str, path: str) -> str | None: ...

    def callback_task(self, body: Any) -> tuple[str | None, str | None]: ...

    def media_of(self, answer: Any) -> list[tuple[str, str]]: ...


def recording_of(dialect: str) -> RecordingRules:
    """What the recording proxy reads of the dialect's traffic."""
    module: RecordingRules = pack(dialect).load("recording")
    return module


def consumer_of(dialect: str) -> ConsumerDialect:
    """The dialect's cases and adapters."""
    module: ConsumerDialect = pack(dialect).load("consumer")
    return module


def client_of(dialect: str) -> ClientRules:
    """The dialect's client checks (registered on the way) and billing rule."""
    module: ClientRules = pack(dialect).load("client")
    return module


def verdicts_of(dialect: str) -> ProxyVerdicts:
    """What the validating proxy says of the dialect's exchanges."""
    module: ProxyVerdicts = pack(dialect).load("verdicts")
    return module
