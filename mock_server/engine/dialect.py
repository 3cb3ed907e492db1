"""The seam between the engine and the API it speaks.

A *dialect* is one object that knows one API's wire: its paths, how a request is checked
and what it asks for, the shapes of its answers, records and errors, its media, its
OpenAPI document. The engine (`service.Engine`) is made with one
(``Engine(dialect, settings)``) and holds it as ``engine.dialect``; the HTTP layer
(`mock_server.web`) reaches the dialect only through the engine, so it never imports a
dialect package. Two dialects implement `Dialect`: `mock_server.acedata` (the
AceDataCloud Luma API) and `mock_server.dream_machine` (Luma's own Dream Machine API,
which answers errors as ``{"detail": ...}``).

A call goes: the HTTP layer finds the path in `Dialect.routes` (or, with path parameters,
`Dialect.route_templates`) and hands the engine a
`Call`; the engine counts it against the rate limit, asks `Dialect.check_request` for
the verdict and the fields, refuses an invalid body, asks the scenario rules (through
`Dialect.describe`), and has `Dialect.serve` do the endpoint's work with the small
`EngineAPI` — `create` a task, `wait_result`, `own`, `record` — before it carries out a
fault if a rule said so. When a task ends, the engine keeps `Dialect.result` and sends
`Dialect.response` to its callback. Errors are `ApiError`s (codes from
`Dialect.error_codes`), rendered by `Dialect.error_body`, and only by it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .accounts import Accounts
from .callbacks import RetryPolicy
from .config import Settings
from .errors import ErrorInfo
from .scenarios import Outcome
from .tasks import Task, TaskStore


class Verdict(Protocol):
    """A dialect's verdict on a request body (its contract's; the journal keeps it)."""

    @property
    def schema(self) -> str: ...

    @property
    def problems(self) -> Sequence[object]: ...

    @property
    def unknown_fields(self) -> Sequence[str]: ...

    @property
    def ok(self) -> bool: ...

    @property
    def message(self) -> str:
        """The problem worth reading first: the message of the 400 for an invalid body."""
        ...


@dataclass
class Call:
    """One call to a dialect's endpoint, filled in by the engine and the dialect as it
    goes (the journal reads it)."""

    endpoint: str  # the route's endpoint name (`Route.endpoint`)
    body: Any  # as posted (a task's record keeps it so)
    token: str
    base_url: str = ""
    scenario: str | None = None  # the X-Luma-Mock-Scenario header
    path: str | None = None  # the request path, for the scenario rules (None from Python)
    verdict: Verdict | None = None
    rule: str | None = None
    task_id: str | None = None  # the task the call made or asked about: the dialect sets it
    on_task: Callable[[str], None] | None = None  # told the task id as soon as it exists
    fields: Any = None  # what `Dialect.check_request` made of a valid body
    # A route template's path parameters and the query string's (first) values, for a
    # dialect whose calls name things in the URL (``GET /generations/{id}?...``).
    # None rather than an empty dict made per call: most calls have none.
    params: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Route:
    """One path a dialect serves through the engine: its endpoint's name (what
    `Call.endpoint` and the scenario rules' ``endpoint`` say) and the methods it allows
    (OPTIONS among them if it is to be answered with ``Allow``).

    A path whose methods are different endpoints (``GET /generations`` lists,
    ``POST /generations`` creates) names them in ``by_method`` (method -> endpoint);
    ``status`` is a success's status, per endpoint in ``statuses`` (201 for a create,
    204 — an empty body — for a delete)."""

    endpoint: str
    methods: frozenset[str]
    status: int = 200
    by_method: tuple[tuple[str, str], ...] = ()
    statuses: tuple[tuple[str, int], ...] = ()  # endpoint -> status, where not `status`
    allow: str = field(init=False)  # the Allow header's value, joined once
    # method -> (endpoint, success status), made once: one dict lookup a call.
    dispatch: Mapping[str, tuple[str, int]] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "allow", ", ".join(sorted(self.methods)))
        named, statuses = dict(self.by_method), dict(self.statuses)
        dispatch = {}
        for method in self.methods:
            endpoint = named.get(method, self.endpoint)
            dispatch[method] = (endpoint, statuses.get(endpoint, self.status))
        object.__setattr__(self, "dispatch", dispatch)

    def endpoints(self) -> tuple[str, ...]:
        """Every endpoint this path reaches."""
        others = (endpoint for endpoint, _ in self.dispatch.values())
        return tuple(dict.fromkeys((self.endpoint, *others)))


class EngineAPI(Protocol):
    """What a dialect may use of the engine while it serves a call."""

    settings: Settings
    store: TaskStore
    accounts: Accounts  # a token's credit balance and rate limit
    rng: random.Random  # the seeded source: draw ids from it, in a fixed order

    def new_id(self) -> str:
        """A version-4 UUID from the seeded source."""
        ...

    def create(
        self,
        *,
        request: Mapping[str, Any],
        token: str,
        base_url: str,
        action: str,
        variant: str | Callable[[], str],
        outcome: Outcome | None = None,
        callback_url: str | None = None,
        ref: Callable[[random.Random, float], str] | None = None,
    ) -> Task:
        """Create and schedule a task, spending the token's credit (see `Engine.create`)."""
        ...

    def wait_result(self, task: Task, timeout: float) -> dict[str, Any]:
        """Hold the call until the task ends (its result, or its error raised)."""
        ...

    def callback_on_start(self, task: Task) -> None:
        """Also send the task's callback when it leaves the queue (an API whose
        callbacks report every state; the one at its end is sent anyway)."""
        ...

    def own(self, task_id: str, token: str) -> Task | None:
        """The task, if ``token`` created it."""
        ...

    def record(self, task: Task) -> dict[str, Any]:
        """`Dialect.record` of the task, under the engine's lock."""
        ...


class Dialect(Protocol):
    """One API's wire, for the engine and the HTTP layer. Stateless: one instance may
    serve many engines."""

    # Read-only properties here: a plain attribute or a class attribute of a dialect
    # fits them.
    @property
    def name(self) -> str:
        """Unique among dialects (``acedata``)."""
        ...

    @property
    def routes(self) -> Mapping[str, Route]:
        """Exact path -> route: the calls the HTTP layer hands to the engine."""
        ...

    @property
    def route_templates(self) -> Mapping[str, Route]:
        """Path template (``/generations/{id}``) -> route: asked only when a path is not
        in `routes` (so exact paths keep their one dict lookup), in this order."""
        ...

    @property
    def media_routes(self) -> Mapping[str, str]:
        """werkzeug rule (with a ``task_id`` variable) -> media kind: the public media
        URLs, answered with `media_file`."""
        ...

    @property
    def callback_retry(self) -> RetryPolicy | None:
        """This API's own callback retry policy, or None for the settings' (the
        ``callback_retries``, ``callback_backoff`` and ``callback_timeout`` of the fake)."""
        ...

    @property
    def openapi_path(self) -> str:
        """Where the fake serves `openapi` (``/openapi.json``): a path of its own per
        dialect, since one process serves several."""
        ...

    @property
    def path_prefixes(self) -> tuple[str, ...]:
        """Paths under these are this API's alone (``/dream-machine/v1``): an error the
        HTTP layer answers there itself — an unknown path, say — is rendered in this
        dialect's error body. Empty for an API that owns no prefix (the process's first
        dialect answers every other path)."""
        ...

    @property
    def base_urls(self) -> tuple[str, ...]:
        """Where this API's clients send requests by default (the in-process transports
        answer these)."""
        ...

    @property
    def error_aliases(self) -> Mapping[str, str]:
        """Engine code -> this API's own code for the same refusal (registered in
        `error_codes` with its own status): an empty balance is 403 ``used_up`` for one
        API and a 402 for another, and a code has one status per process."""
        ...

    @property
    def refunds_failures(self) -> bool:
        """Whether a task that fails gives its credits back (the API documents so)."""
        ...

    def error_codes(self) -> Mapping[str, ErrorInfo]:
        """Every error code this API answers with, with its status and default message
        (`ENGINE_CODES` among them); the engine registers them (`engine.errors`)."""
        ...

    def error_body(
        self,
        code: str,
        message: str,
        trace_id: str | None = None,
        task_id: str | None = None,
    ) -> dict[str, Any]:
        """An error as this API answers it. Every error the HTTP layer sends — the
        server's own refusals included — is rendered here."""
        ...

    def check_request(self, endpoint: str, body: Any) -> tuple[Verdict, Any]:
        """The verdict on a request body, and the fields the engine goes on with (for a
        valid body; None otherwise)."""
        ...

    def describe(self, endpoint: str, fields: Any) -> tuple[str | None, str | None, str | None]:
        """A call's action, its prompt and the model it asks for (each or None), for the
        scenario rules' ``action``, ``prompt_contains`` and ``model``; asked only when
        there are rules."""
        ...

    def serve(self, engine: EngineAPI, call: Call, outcome: Outcome | None) -> dict[str, Any]:
        """Do the endpoint's work for a valid call and return its answer (or raise
        `ApiError`); ``outcome`` is a scenario rule's, to pass on to `EngineAPI.create`.
        Sets ``call.task_id`` (and calls ``call.on_task`` once a task exists)."""
        ...

    def result(self, task: Task) -> dict[str, Any]:
        """A completed task's answer (kept as ``task.result``)."""
        ...

    def response(self, task: Task) -> dict[str, Any]:
        """What a task says of itself now (its result, its error, or that it runs): the
        body of its callback."""
        ...

    def record(self, task: Task) -> dict[str, Any]:
        """The task as the API shows it when asked for it (called under the engine's
        lock)."""
        ...

    def media_file(self, task: Task, kind: str) -> tuple[Path, str]:
        """The file behind a completed task's media URL of ``kind``, and its mimetype."""
        ...

    def openapi(self) -> dict[str, Any]:
        """The API's OpenAPI document (served at `openapi_path`)."""
        ...

    def banner_example(self, url: str) -> str:
        """A one-line call to try against the fake at ``url`` (the start banner's)."""
        ...
