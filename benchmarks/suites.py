"""The contract suites' speed: ``luma-mock verify`` in process, and
``luma-mock verify --target URL`` against a live fake over a socket — run time, and
examples per second where the command reports how many it ran.

The provider suite (`contract_tests/provider/`) may not exist yet; the row then says so.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from benchmarks.harness import (
    ROOT,
    TOKEN,
    LiveFake,
    Section,
    Table,
    Verdict,
    luma_mock_command,
)

TIMEOUT = 600  # seconds one verify run may take
# The report's last summary line: "target X: 278 examples, 521 requests in 1.7 s (...)".
EXAMPLES = re.compile(r"(\d[\d,]*)\s+examples?\b", re.IGNORECASE)
REQUESTS = re.compile(r"(\d[\d,]*)\s+requests?\s+in\s+([\d.]+)\s*s\b", re.IGNORECASE)


def _available() -> str | None:
    """None if `luma-mock verify` can be run, else why not."""
    if not (ROOT / "contract_tests" / "provider" / "__init__.py").exists():
        return "not yet available (no contract_tests/provider/)"
    try:
        done = subprocess.run(
            [*luma_mock_command(), "verify", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as failure:
        return f"luma-mock verify --help failed: {failure}"
    if done.returncode != 0:
        return "not yet available (luma-mock has no verify command)"
    return None


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    found = list(pattern.finditer(text))
    return found[-1] if found else None


Outcome = tuple[str, float, float | None, int | None, int | None, int, str]


def _verify(label: str, *args: str, timeout: float) -> Outcome:
    """(label, wall seconds, the suite's own seconds, examples and requests the report
    counts — None where it does not say —, exit code, the report's verdict line)."""
    started = time.perf_counter()
    done = subprocess.run(
        [*luma_mock_command(), "verify", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=Path(ROOT),
    )
    seconds = time.perf_counter() - started
    output = (done.stdout + "\n" + done.stderr).strip()  # the report, then its progress
    examples = _last(EXAMPLES, done.stdout)
    requests = _last(REQUESTS, done.stdout)
    verdicts = [line for line in done.stdout.splitlines() if "checks passed" in line]
    last = verdicts[-1] if verdicts else (output.splitlines() or [""])[-1]
    return (
        label,
        seconds,
        float(requests.group(2)) if requests else None,
        int(examples.group(1).replace(",", "")) if examples else None,
        int(requests.group(1).replace(",", "")) if requests else None,
        done.returncode,
        last.strip()[:60],
    )


def run(quick: bool) -> Section:
    table = Table(
        "Contract suites: luma-mock verify (provider suite)",
        [
            "run",
            "wall",
            "suite",
            "examples",
            "examples/s",
            "requests",
            "requests/s",
            "exit",
            "report",
        ],
    )
    section = Section("contract", [table])
    missing = _available()
    if missing is not None:
        table.add("in process", "-", "-", "-", "-", "-", "-", "-", missing)
        table.add("over a socket (--target)", "-", "-", "-", "-", "-", "-", "-", missing)
        section.verdicts.append(Verdict("contract suites", missing, "(no target)", "-"))
        return section
    results: list[Outcome] = []
    try:
        results.append(_verify("in process", timeout=TIMEOUT))
        with LiveFake("--delay", "instant") as fake:
            results.append(
                _verify(
                    "over a socket (--target)",
                    *("--target", fake.url, "--token", TOKEN, "--any-token"),
                    timeout=TIMEOUT,
                )
            )
    except subprocess.TimeoutExpired:
        results.append(("(timed out)", TIMEOUT, None, None, None, -1, f"over {TIMEOUT} s"))

    def rate(count: int | None, seconds: float | None) -> str:
        return f"{count / seconds:,.0f}" if count and seconds else "-"

    for label, wall, suite, examples, requests, code, last in results:
        table.add(
            label,
            f"{wall:.1f} s",
            "-" if suite is None else f"{suite:.1f} s",
            "-" if examples is None else str(examples),
            rate(examples, suite or wall),
            "-" if requests is None else str(requests),
            rate(requests, suite or wall),
            str(code),
            last,
        )
    table.notes.append(
        "wall: the whole command, Python start-up included; suite: the time the report "
        "gives; rates use the suite's time"
    )
    summary = "; ".join(
        f"{label}: {rate(examples, suite or wall)} examples/s"
        for label, wall, suite, examples, _, _, _ in results
    )
    section.verdicts.append(Verdict("contract suites", summary, "(no target)", "-"))
    return section
