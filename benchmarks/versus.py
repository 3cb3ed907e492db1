"""Throughput and latency of the two hot calls at 32 keep-alive connections, for the fake
and its peers in the same run, one server at a time (each gets the machine to itself):

- ``POST /luma/tasks`` retrieve of an existing task;
- ``POST /luma/videos`` with ``async: true`` (a task created per call on the fake; a
  static answer on the peers).

Target: the fake at least as fast as WireMock's static stub, with a lower p99.
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


@dataclass
class Measured:
    target: str
    workload: str
    result: LoadResult | None = None
    cpu_percent: float | None = None
    rss_after_kib: int | None = None
    problem: str | None = None


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


def _measure(
    target: str, url: str, pid: int, task_id: str, warm: float, seconds: float
) -> list[Measured]:
    rows = []
    for workload, (path, body) in _bodies(task_id).items():
        row = Measured(target, workload)
        try:
            _check(url, path, body, "id" if workload == "retrieve" else "task_id")
            run_load(url, path, body, connections=CONNECTIONS, seconds=warm)  # warm-up
            cpu_before = cpu_seconds(pid)
            row.result = run_load(url, path, body, connections=CONNECTIONS, seconds=seconds)
            cpu_after = cpu_seconds(pid)
            if cpu_before is not None and cpu_after is not None and row.result.seconds:
                row.cpu_percent = 100 * (cpu_after - cpu_before) / row.result.seconds
            row.rss_after_kib = rss_kib(pid)
        except Exception as failure:
            row.problem = f"{type(failure).__name__}: {failure}"[:200]
        rows.append(row)
    return rows


def _fake(warm: float, seconds: float, label: str = "luma-mock") -> list[Measured]:
    with LiveFake("--seed", "7") as fake:
        status, accepted = request(
            fake.url, "POST", "/luma/videos", {"prompt": PROMPT, "async": True}
        )
        if status != 200:
            raise RuntimeError(f"could not create the task to retrieve: {status} {accepted}")
        return _measure(label, fake.url, fake.pid, accepted["task_id"], warm, seconds)


def _peer(make: Callable[[], peers.Peer], name: str, warm: float, seconds: float) -> list[Measured]:
    started = time.perf_counter()
    try:
        peer = make()
    except peers.PeerUnavailable as why:
        return [Measured(name, w, problem=f"unavailable: {why}") for w in WORKLOADS]
    with peer:
        label = f"{name} {getattr(peer, 'version', '')}".strip()
        print(f"  {label} up in {time.perf_counter() - started:.1f} s", flush=True)
        assert peer.process is not None
        return _measure(label, peer.url, peer.process.pid, peers.READY_BODY["id"], warm, seconds)


def run(quick: bool) -> Section:
    warm, seconds = (1.0, 3.0) if quick else (3.0, 10.0)
    section = Section("load")
    measured: list[Measured] = []
    for name, job in (
        ("luma-mock", lambda: _fake(warm, seconds)),
        ("WireMock", lambda: _peer(peers.WireMock, "WireMock", warm, seconds)),
        ("Prism", lambda: _peer(peers.Prism, "Prism", warm, seconds)),
    ):
        print(f"  load: {name} ...", flush=True)
        try:
            measured += job()
        except Exception as failure:
            measured += [
                Measured(name, w, problem=f"{type(failure).__name__}: {failure}") for w in WORKLOADS
            ]

    tool = next((m.result.tool for m in measured if m.result), "-")
    table = Table(
        f"Load: {CONNECTIONS} keep-alive connections, {seconds:.0f} s each after a "
        f"{warm:.0f} s warm-up ({tool})",
        [
            "target",
            "workload",
            "req/s",
            "p50",
            "p90",
            "p99",
            "max",
            "errors",
            "server CPU",
            "RSS after",
        ],
        left=2,
    )
    for m in measured:
        r = m.result
        if r is None:
            table.add(m.target, m.workload, "-", "-", "-", "-", "-", "-", "-", m.problem or "-")
            continue
        table.add(
            m.target,
            m.workload,
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
    table.notes.append("server CPU: the server process's CPU time / wall time (100% = one core)")
    section.tables.append(table)

    ratios = Table(
        "luma-mock versus its peers (same run): req/s ratio (>1: luma-mock faster), "
        "p99 ratio (<1: luma-mock lower)",
        ["fake", "workload", "peer", "req/s ratio", "p99 ratio"],
        left=3,
    )
    ours = {m.workload: m for m in measured if m.target == "luma-mock"}
    for m in measured:
        if m.target == "luma-mock":
            continue
        for fake_label, table in (("luma-mock", ours),):
            mine = table.get(m.workload)
            if mine is None or mine.result is None or m.result is None:
                ratios.add(fake_label, m.workload, m.target, "-", "-")
                continue
            ratios.add(
                fake_label,
                m.workload,
                m.target,
                f"{mine.result.rps / m.result.rps:.2f}" if m.result.rps else "-",
                f"{mine.result.p99 / m.result.p99:.2f}" if m.result.p99 else "-",
            )
    section.tables.append(ratios)
    section.summary.append(ratios)

    for workload in WORKLOADS:
        mine = ours.get(workload)
        wiremock = next(
            (m for m in measured if m.target.startswith("WireMock") and m.workload == workload),
            None,
        )
        if mine is None or mine.result is None:
            section.verdicts.append(
                Verdict(
                    f"{workload}: >= WireMock req/s, lower p99",
                    mine.problem if mine else "not run",
                    "",
                    "MISS",
                )
            )
            continue
        got = f"{mine.result.rps:,.0f} req/s, p99 {ms(mine.result.p99)}"
        if mine.result.errors:
            got += f", {mine.result.errors} errors"
        if wiremock is None or wiremock.result is None:
            section.verdicts.append(
                Verdict(f"live {workload} @{CONNECTIONS}", got, "WireMock not measured", "-")
            )
            continue
        w = wiremock.result
        ok = mine.result.rps >= w.rps and mine.result.p99 < w.p99 and not mine.result.errors
        section.verdicts.append(
            Verdict(
                f"live {workload} @{CONNECTIONS}",
                got,
                f">= {w.rps:,.0f} req/s and p99 < {ms(w.p99)} (WireMock)",
                "PASS" if ok else "MISS",
            )
        )
    return section
