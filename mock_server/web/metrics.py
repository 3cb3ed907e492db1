"""The fake's own health, as Prometheus metrics at ``/__admin/metrics`` (behind the
control API's guard) and as a few gauges on ``/health``.

Counted as they happen: requests by dialect, route and status; callback attempts by
what became of their delivery; connections refused at the cap. Read when scraped: tasks
by state, held synchronous calls, open connections, callbacks under way, and the shared
store's round trips and errors. Each app has a registry of its own (never the client's
global one), so two fakes in one process do not mix their numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import gevent
from flask import Blueprint, Flask, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..engine.callbacks import CallbackAttempt, CallbackDelivery
from ..engine.fake import Fake
from ..engine.service import Engine
from .admin import _guard
from .limits import Gate
from .rendering import render
from .routing import compile_templates

metrics = Blueprint("metrics", __name__, url_prefix="/__admin")
metrics.before_request(_guard)  # the control API's rule: loopback, or its token

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class RouteNames:
    """A request's dialect and route as labels: a dialect's route as it declares it
    (``/dream-machine/v1/generations/{id}``), Flask's rule for the rest, ``other`` for
    paths nothing serves — never the raw path, whose ids would be a label each."""

    def __init__(self, app: Flask, engines: list[Engine]) -> None:
        self.exact = {p: (e.dialect.name, p) for e in engines for p in e.dialect.routes}
        self.templates = [
            (e.dialect.name, template, pattern)
            for e in engines
            for template, (pattern, _) in zip(
                e.dialect.route_templates,
                compile_templates(e.dialect.route_templates),
                strict=True,
            )
        ]
        self.app = app

    def __call__(self, path: str) -> tuple[str, str]:
        found = self.exact.get(path)
        if found is not None:
            return found
        for dialect, template, pattern in self.templates:
            if pattern.fullmatch(path):
                return dialect, template
        try:
            rule, _ = self.app.url_map.bind("").match(path, return_rule=True)
        except Exception:  # not found, or a method or redirect Flask would answer
            return "-", "other"
        return "-", str(rule.rule)


class FakeMetrics:
    """One app's metrics; `install` makes them and wires them in."""

    def __init__(self, app: Flask, fake: Fake) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.fake = fake
        self.engines = engines = list(fake.engines.values())
        self.gate: Gate | None = None  # set by the server: in process there is none
        self.started = time.monotonic()
        # Answers by (dialect, route, status): a plain count, turned into a counter at
        # scrape time. Counting on the hot path through the client's labelled Counter
        # (a labels() lookup and a lock per answer) cost ~20,000 instructions a request.
        self.answers: dict[tuple[str, str, str], int] = {}
        self.callbacks = Counter(
            "luma_mock_callback_attempts",
            "Callback attempts, by dialect and what became of the delivery",
            ["dialect", "outcome"],
            registry=self.registry,
        )
        self.route_names = RouteNames(app, engines)
        self.registry.register(_Gauges(self))

    def counting(self, app: WSGIApp) -> WSGIApp:
        """``app``, each answer counted with its status."""
        answers, names = self.answers, self.route_names

        def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            def start(status: str, headers: Any, exc_info: Any = None) -> Any:
                key = (*names(environ.get("PATH_INFO", "")), status[:3])
                answers[key] = answers.get(key, 0) + 1  # greenlets never switch in between
                return start_response(status, headers, exc_info)

            return app(environ, start)

        return counted

    def watch_callbacks(self, engine: Engine) -> None:
        """Count ``engine``'s callback attempts, after what the engine does with each."""
        previous = engine.callbacks.on_attempt
        dialect = engine.dialect.name
        counter = self.callbacks

        def attempted(delivery: CallbackDelivery, attempt: CallbackAttempt) -> None:
            if previous is not None:
                previous(delivery, attempt)
            outcome = "retrying" if delivery.state == "scheduled" else delivery.state
            counter.labels(dialect, outcome).inc()

        engine.callbacks.on_attempt = attempted

    def health(self) -> dict[str, Any]:
        """The gauges ``/health`` adds: what a load balancer or a person looks at."""
        gate = self.gate
        return {
            "uptime": round(time.monotonic() - self.started, 3),
            "held_calls": held_calls(self.engines),
            "callbacks_under_way": sum(under_way(e) for e in self.engines),
            "connections": None if gate is None else gate.open,
            "max_connections": None if gate is None else gate.cap,
        }


def held_calls(engines: list[Engine]) -> int:
    return sum(len(e._sync_waits) for e in engines)


def under_way(engine: Engine) -> int:
    return sum(1 for d in engine.callbacks.all() if not d.finished)


class _Gauges(Collector):
    """What is read at each scrape."""

    def __init__(self, owner: FakeMetrics) -> None:
        self.owner = owner

    def collect(self) -> Iterator[Metric]:
        engines, gate = self.owner.engines, self.owner.gate
        answered = CounterMetricFamily(
            "luma_mock_requests",
            "Requests answered, by dialect, route and status",
            labels=["dialect", "route", "status"],
        )
        for labels, count in sorted(self.owner.answers.items()):
            answered.add_metric(list(labels), count)
        yield answered
        tasks = GaugeMetricFamily("luma_mock_tasks", "Tasks kept, by state", labels=["state"])
        for state, count in sorted(task_states(engines).items()):
            tasks.add_metric([state], count)
        yield tasks
        yield GaugeMetricFamily(
            "luma_mock_held_calls", "Synchronous calls held open", value=held_calls(engines)
        )
        pending = GaugeMetricFamily(
            "luma_mock_callbacks_under_way", "Deliveries not ended", labels=["dialect"]
        )
        for engine in engines:
            pending.add_metric([engine.dialect.name], under_way(engine))
        yield pending
        if gate is not None:
            yield GaugeMetricFamily(
                "luma_mock_open_connections", "Connections open", value=gate.open
            )
            yield CounterMetricFamily(
                "luma_mock_refused_connections",
                "Connections refused at the cap",
                value=gate.refused,
            )
        lane = _lane(self.owner.fake)
        if lane is not None:
            yield CounterMetricFamily(
                "luma_mock_store_round_trips", "Shared-store commands", value=lane.round_trips
            )
            yield CounterMetricFamily(
                "luma_mock_store_errors", "Shared-store commands failed", value=lane.errors
            )


def _lane(fake: Fake) -> Any:
    """The shared store's lane of commands (its round trips and errors); None in memory."""
    return getattr(fake.backing, "lane", None)


def task_states(engines: list[Engine]) -> dict[str, int]:
    """Tasks by state, every dialect's. On a shared store only the total (``kept``): a
    count by state would read every task from Redis at each scrape."""
    counts: dict[str, int] = {}
    for engine in engines:
        if _lane(engine.fake) is not None:
            counts["kept"] = counts.get("kept", 0) + len(engine.store)
            continue
        for task in list(engine.store):
            state = task.state.value
            counts[state] = counts.get(state, 0) + 1
    return counts


@metrics.get("/metrics")
def scrape() -> Response:
    owner: FakeMetrics = current_app.extensions["luma_metrics"]
    return Response(generate_latest(owner.registry), content_type=CONTENT_TYPE_LATEST)


@metrics.get("/gauges")
def gauges() -> Response:
    """``/health``'s gauges for the dashboard, which reads them every few seconds: here,
    under the control API, its polls stay out of the journal."""
    owner: FakeMetrics = current_app.extensions["luma_metrics"]
    return render(owner.health())


def install(app: Flask, fake: Fake) -> FakeMetrics:
    """Metrics for ``app`` over every engine of ``fake``: the route, the counting in
    front of everything (the dialects' endpoints too), the callback counts."""
    owner = FakeMetrics(app, fake)
    engines = owner.engines
    app.extensions["luma_metrics"] = owner
    app.register_blueprint(metrics)
    app.wsgi_app = owner.counting(app.wsgi_app)  # type: ignore[method-assign]
    for engine in engines:
        owner.watch_callbacks(engine)
    return owner


def finish_in_grace(owner: FakeMetrics, grace: float) -> None:
    """At shutdown: wait up to ``grace`` seconds for the held calls to get their results
    and the callbacks under way to end — but no longer than something can still happen:
    once the next event the engines have planned (a task's end, a retry) falls beyond
    the grace, or the clock is manual (nothing moves it now), waiting is pointless."""
    deadline = time.monotonic() + grace
    engines = owner.engines
    luma = engines[0]
    while (left := deadline - time.monotonic()) > 0:
        held, sending = held_calls(engines), sum(under_way(e) for e in engines)
        if not held and not sending:
            return
        due = None if luma.scheduler.manual else luma.scheduler.next_due()
        if not sending and (due is None or due - luma.clock.now() > left):
            return  # held calls whose tasks cannot end in time: answered now, with an error
        gevent.sleep(min(left, 0.02))
