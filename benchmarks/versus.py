"""Throughput and latency of the two hot calls at 32 keep-alive connections, for the fake
and its peers in the same run, one server at a time (each gets the machine to itself):

- ``POST /luma/tasks`` retrieve of an existing task;
- ``POST /luma/videos`` with ``async: true`` (a task created per call on the fake; a
  static answer on the peers).

Each target and workload is measured twice: after a short warm-up (3 s: what a mock sees
in a CI job, which lasts seconds to minutes) and once settled — warmed in 5-s windows
until its throughput stops rising (two windows within 5 %, at most 60 s): a JIT-compiled
peer such as WireMock keeps speeding up for about a minute of full load.

Target: the fake at least as fast as WireMock's static stub, with a lower p99, in both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks import peers
from benchmarks.harness import (
    PROMPT,
    LiveFake,
    Section,
    Table,
    Verdict,
    cpu_seconds,
    mib,
    ms,
    request,
    rss_kib,
)
from benchmarks.load import LoadResult, run_load, wrk_problem

CONNECTIONS = 32
WORKLOADS = ("retrieve", "videos async")
SHORT, SETTLED = "short", "settled"
SETTLE_WINDOW = 5.0  # seconds per warm-up window while settling
SETTLE_TOLERANCE = 0.05  # two windows this close in req/s: settled


@dataclass
class Measured:
    target: str
    workload: str
    phase: str = SHORT
    result: LoadResult | None = None
    cpu_percent: float | None = None
    rss_after_kib: int | None = None
    problem: str | None = None
    warmed: float = 0.0  # seconds of load before the measurement


def _bodies(task_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        "retrieve": ("/luma/tasks", {"action": "retrieve", "id": task_id}),
        "videos async": ("/luma/videos", {"prompt": PROMPT, "async": True}),
    }


def _check(url: str, path: str, body: dict[str, Any], wanted: str) -> None:
    """The target answers this workload's call correctly before it is loaded."""
    status, answer = request(url, "POST", path, body)
    if status != 200 or not isinstance(answer, dict) or wanted not in answer:
        raise RuntimeError(f"{path} answered {status}: {str(answer)[:160]}")


@dataclass(frozen=True)
class Plan:
    """How long to load: the short warm-up, each measurement, the cap on settling."""

    warm: float
    seconds: float
    settle_cap: float


def _measure(
    target: str, url: str, pid: int, task_to_retrieve: Callable[[], str], plan: Plan
) -> list[Measured]:
    """Both workloads after the short warm-up first — so the second one, too, runs on a
    process that has seen only seconds of load — then each of them settled. Each
    retrieve phase asks for a task made just before it: the fake's store evicts the
    tasks that finished longest ago, and async generation makes tens of thousands."""
    rows = {(w, p): Measured(target, w, p) for w in WORKLOADS for p in (SHORT, SETTLED)}

    def attempt(row: Measured, warm_up: Callable[[str, Any], float]) -> None:
        try:
            path, body = _bodies(task_to_retrieve())[row.workload]
            _check(url, path, body, "id" if row.workload == "retrieve" else "task_id")
            row.warmed = warm_up(path, body)
            _load(row, url, pid, path, body, plan.seconds)
        except Exception as failure:
            row.problem = f"{type(failure).__name__}: {failure}"[:200]

    def short(path: str, body: Any) -> float:
        run_load(url, path, body, connections=CONNECTIONS, seconds=plan.warm)
        return plan.warm

    def settled(path: str, body: Any) -> float:
        return plan.warm + plan.seconds + _settle(url, path, body, plan)

    for workload in WORKLOADS:
        attempt(rows[workload, SHORT], short)
    for workload in WORKLOADS:
        attempt(rows[workload, SETTLED], settled)
    return list(rows.values())


def _load(row: Measured, url: str, pid: int, path: str, body: Any, seconds: float) -> None:
    cpu_before = cpu_seconds(pid)
    row.result = run_load(url, path, body, connections=CONNECTIONS, seconds=seconds)
    cpu_after = cpu_seconds(pid)
    if cpu_before is not None and cpu_after is not None and row.result.seconds:
        row.cpu_percent = 100 * (cpu_after - cpu_before) / row.result.seconds
    row.rss_after_kib = rss_kib(pid)


def _settle(url: str, path: str, body: Any, plan: Plan) -> float:
    """Load in windows until two in a row agree within the tolerance (or the cap is
    reached); returns the seconds spent."""
    spent, previous = 0.0, None
    while spent < plan.settle_cap:
        window = run_load(url, path, body, connections=CONNECTIONS, seconds=SETTLE_WINDOW)
        spent += SETTLE_WINDOW
        if previous is not None and abs(window.rps - previous) <= SETTLE_TOLERANCE * previous:
            break
        previous = window.rps
    return spent


def _fake(plan: Plan, label: str = "luma-mock") -> list[Measured]:
    with LiveFake("--seed", "7") as fake:

        def new_task() -> str:
            body = {"prompt": PROMPT, "async": True}
            status, accepted = request(fake.url, "POST", "/luma/videos", body)
            if status != 200:
                raise RuntimeError(f"could not create the task to retrieve: {status} {accepted}")
            return str(accepted["task_id"])

        return _measure(label, fake.url, fake.pid, new_task, plan)


def _peer(make: Callable[[], peers.Peer], name: str, plan: Plan) -> list[Measured]:
    started = time.perf_counter()
    try:
        peer = make()
    except peers.PeerUnavailable as why:
        return [
            Measured(name, w, phase, problem=f"unavailable: {why}")
            for w in WORKLOADS
            for phase in (SHORT, SETTLED)
        ]
    with peer:
        label = f"{name} {getattr(peer, 'version', '')}".strip()
        print(f"  {label} up in {time.perf_counter() - started:.1f} s", flush=True)
        assert peer.process is not None
        return _measure(label, peer.url, peer.process.pid, lambda: peers.READY_BODY["id"], plan)


def run(quick: bool) -> Section:
    plan = Plan(1.0, 3.0, 15.0) if quick else Plan(3.0, 10.0, 60.0)
    section = Section("load")
    measured: list[Measured] = []
    for name, job in (
        ("luma-mock", lambda: _fake(plan)),
        ("WireMock", lambda: _peer(peers.WireMock, "WireMock", plan)),
        ("Prism", lambda: _peer(peers.Prism, "Prism", plan)),
    ):
        print(f"  load: {name} ...", flush=True)
        try:
            measured += job()
        except Exception as failure:
            problem = f"{type(failure).__name__}: {failure}"
            measured += [
                Measured(name, w, phase, problem=problem)
                for w in WORKLOADS
                for phase in (SHORT, SETTLED)
            ]
    tool = next((m.result.tool for m in measured if m.result), "-")
    titles = {
        SHORT: f"after a {plan.warm:.0f} s warm-up (a CI job's mock)",
        SETTLED: f"settled (warmed until req/s stops rising, at most {plan.settle_cap:.0f} s)",
    }
    for phase in (SHORT, SETTLED):
        rows = [m for m in measured if m.phase == phase]
        section.tables.append(_load_table(rows, f"{titles[phase]}, {plan.seconds:.0f} s", tool))
        ratios = _ratio_table(rows, titles[phase])
        section.tables.append(ratios)
        section.summary.append(ratios)
        section.verdicts += _verdicts(rows, phase)
    return section


def _load_table(rows: list[Measured], when: str, tool: str) -> Table:
    table = Table(
        f"Load: {CONNECTIONS} keep-alive connections, {when} ({tool})",
        ["target", "workload", "warmed", "req/s", "p50", "p90", "p99", "max", "errors",
         "server CPU", "RSS after"],
        left=2,
    )  # fmt: skip
    for m in rows:
        r = m.result
        if r is None:
            table.add(
                m.target, m.workload, "-", "-", "-", "-", "-", "-", "-", "-", m.problem or "-"
            )
            continue
        table.add(
            m.target,
            m.workload,
            f"{m.warmed:.0f} s",
            f"{r.rps:,.0f}",
            ms(r.p50),
            ms(r.p90),
            ms(r.p99),
            ms(r.max),
            f"{r.errors}",
            "-" if m.cpu_percent is None else f"{m.cpu_percent:.0f}%",
            mib(m.rss_after_kib),
        )
    if tool == "python":
        table.notes.append(
            f"wrk unavailable ({wrk_problem()}); the Python generator is the bottleneck"
        )
    table.notes.append("warmed: seconds of load on this workload before the measurement")
    table.notes.append("server CPU: the server process's CPU time / wall time (100% = one core)")
    return table


def _ratio_table(rows: list[Measured], when: str) -> Table:
    ratios = Table(
        f"luma-mock versus its peers, {when}: req/s ratio (>1: luma-mock faster), "
        "p99 ratio (<1: luma-mock lower)",
        ["fake", "workload", "peer", "req/s ratio", "p99 ratio"],
        left=3,
    )
    ours = {m.workload: m for m in rows if m.target == "luma-mock"}
    for m in rows:
        if m.target == "luma-mock":
            continue
        mine = ours.get(m.workload)
        if mine is None or mine.result is None or m.result is None:
            ratios.add("luma-mock", m.workload, m.target, "-", "-")
            continue
        ratios.add(
            "luma-mock",
            m.workload,
            m.target,
            f"{mine.result.rps / m.result.rps:.2f}" if m.result.rps else "-",
            f"{mine.result.p99 / m.result.p99:.2f}" if m.result.p99 else "-",
        )
    return ratios


def _verdicts(rows: list[Measured], phase: str) -> list[Verdict]:
    verdicts = []
    for workload in WORKLOADS:
        name = f"live {workload} @{CONNECTIONS}, {phase}"
        mine = next((m for m in rows if m.target == "luma-mock" and m.workload == workload), None)
        wiremock = next(
            (m for m in rows if m.target.startswith("WireMock") and m.workload == workload),
            None,
        )
        if mine is None or mine.result is None:
            verdicts.append(Verdict(name, mine.problem if mine else "not run", "", "MISS"))
            continue
        got = f"{mine.result.rps:,.0f} req/s, p99 {ms(mine.result.p99)}"
        if mine.result.errors:
            got += f", {mine.result.errors} errors"
        if wiremock is None or wiremock.result is None:
            verdicts.append(Verdict(name, got, "WireMock not measured", "-"))
            continue
        w = wiremock.result
        ok = mine.result.rps >= w.rps and mine.result.p99 < w.p99 and not mine.result.errors
        verdicts.append(
            Verdict(
                name,
                got,
                f">= {w.rps:,.0f} req/s and p99 < {ms(w.p99)} (WireMock)",
                "PASS" if ok else "MISS",
            )
        )
    return verdicts
