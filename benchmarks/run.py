"""Measured: speed, load, bad input and faults — the one benchmark command.

    python benchmarks/run.py [--quick] [--only NAME[,NAME...]]

Prints a table per workload, headed by the machine it ran on, then a summary with
PASS/MISS against each target and the ratios against the peers (WireMock, Prism) from
the same run. Not part of the test run: numbers depend on the machine and its load.

All traffic goes to 127.0.0.1; every loop is bounded in count and time; every process
started here is stopped at the end (and a watchdog ends the whole run if it overstays).
Peers and wrk are installed on first use (npm into benchmarks/.cache/, wrk with apt-get).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import harness, inprocess, live, suites, versus  # noqa: E402
from benchmarks.harness import Section, Table, Verdict  # noqa: E402

WATCHDOG = {True: 10 * 60, False: 30 * 60}  # seconds before a stuck run is ended


def _inprocess(quick: bool) -> Section:
    rows = inprocess.in_process_rows(quick)
    table = Table(
        "In process: fixture start and round trips through the transports", inprocess.HEADERS
    )
    section = Section("inprocess", [table])
    if not rows:
        table.add("mock_server.web.transports", "-", "-", "not importable yet")
        section.verdicts.append(
            Verdict("in-process transports", "not yet available", "(no target)", "-")
        )
        return section
    for row in rows:
        table.add(*row)
    start, trips = rows[0], [r for r in rows[1:] if r[1] != "-"]
    slowest = max(trips, key=lambda r: _micros(r[1]))
    met = _micros(start[1]) < 300_000 and all(_micros(r[1]) <= 500 for r in trips)
    section.verdicts.append(
        Verdict(
            "in-process transports",
            f"start p50 {start[1]}; slowest round trip p50 {slowest[1]} ({slowest[0]})",
            "start < 0.3 s; round trip p50 <= 0.5 ms",
            "PASS" if met else "MISS",
        )
    )
    return section


def _micros(cell: str) -> float:
    """``"4,270 µs"`` -> 4270.0"""
    return float(cell.replace(",", "").split()[0])


SECTIONS: dict[str, Callable[[bool], Section]] = {
    "startup": live.startup,
    "inprocess": _inprocess,
    "load": versus.run,
    "held": live.held,
    "callbacks": live.callbacks,
    "memory": live.memory,
    "contract": suites.run,
}


def _watchdog(seconds: float) -> threading.Timer:
    def expire() -> None:
        print(f"\nbenchmarks/run.py: over {seconds:.0f} s, stopping everything", flush=True)
        harness._stop_all()
        os._exit(3)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, shorter runs")
    parser.add_argument(
        "--only",
        help=f"comma-separated workloads to run, of: {', '.join(SECTIONS)}",
    )
    args = parser.parse_args(argv)
    wanted = list(SECTIONS) if not args.only else [n.strip() for n in args.only.split(",")]
    unknown = [n for n in wanted if n not in SECTIONS]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")

    # SIGTERM ends the run like Ctrl-C: through the exit handlers that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    timer = _watchdog(WATCHDOG[args.quick])
    started = time.perf_counter()
    header = Table(
        f"luma-mock benchmarks ({'quick' if args.quick else 'full'} run)", ["machine", ""], left=2
    )
    for key, value in harness.machine():
        header.add(key, value)
    print(header.render(), "\n", flush=True)

    verdicts: list[Verdict] = []
    extra: list[Table] = []
    for name in wanted:
        print(f"[{name}] running ...", flush=True)
        section_started = time.perf_counter()
        try:
            section = SECTIONS[name](args.quick)
        except Exception as failure:  # one broken workload must not stop the others
            traceback.print_exc()
            section = Section(name)
            section.verdicts.append(
                Verdict(name, f"failed: {type(failure).__name__}: {failure}"[:120], "", "MISS")
            )
        for table in section.tables:
            print(table.render(), "\n", flush=True)
        print(f"[{name}] took {time.perf_counter() - section_started:.1f} s\n", flush=True)
        verdicts += section.verdicts
        extra += section.summary

    summary = Table("Summary", ["workload", "measured", "target", "verdict"], left=4)
    for v in verdicts:
        summary.add(v.workload, v.measured, v.target, v.verdict)
    summary.notes.append(f"whole run: {time.perf_counter() - started:.0f} s")
    if hasattr(os, "getloadavg"):
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        summary.notes.append(f"load average at the end: {load} (1, 5, 15 min)")
    print(summary.render(), flush=True)
    for table in extra:
        print("\n" + table.render(), flush=True)
    timer.cancel()
    harness._stop_all()
    return 1 if any(v.verdict == "MISS" for v in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
