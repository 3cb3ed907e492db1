"""What every benchmark section shares: the machine's description, tables, percentiles,
resident memory, and a `luma-mock serve` process that is always stopped.

Nothing here talks to anything but 127.0.0.1, and every wait has a deadline.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mock_server.harness.process import ServedFake
from mock_server.harness.process import stop_all as stop_all_fakes

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / ".cache"
HOST = "127.0.0.1"
TOKEN = "bench-token"
PROMPT = "Astronauts shuttle from space to volcano"

# Every process a benchmark starts, so that an interrupted run still stops them all.
_STARTED: list[subprocess.Popen[Any]] = []


def _stop_all() -> None:
    for process in list(_STARTED):
        stop_process(process)
    stop_all_fakes()


atexit.register(_stop_all)


def stop_process(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM the process (and its group, for npm/node launchers), then SIGKILL."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if getattr(process, "own_group", False):
                os.killpg(process.pid, signal.SIGTERM)
            else:
                process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if getattr(process, "own_group", False):
                    os.killpg(process.pid, signal.SIGKILL)
                else:
                    process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
    if process in _STARTED:
        _STARTED.remove(process)


def spawn(
    command: Sequence[str], log: Path, *, own_group: bool = False, env: dict[str, str] | None = None
) -> subprocess.Popen[Any]:
    """Start a process with its output in ``log`` (a file, never a pipe that could fill
    up and stall a server that logs every request)."""
    out = log.open("wb")
    try:
        process = subprocess.Popen(
            list(command),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=own_group,
            env=env,
        )
    finally:
        out.close()
    process.own_group = own_group  # type: ignore[attr-defined]
    _STARTED.append(process)
    return process


def raise_open_file_limit() -> int:
    """Hold many sockets at once: soft open-file limit up to the hard one."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


# -- the machine ----------------------------------------------------------------------


def _first(path: str, key: str) -> str | None:
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.lower().startswith(key.lower()):
                return line.split(":", 1)[1].strip()
    return None


def _version(command: Sequence[str], pattern: str = r"(\d+\.\d+[\w.\-+]*)") -> str:
    if shutil.which(command[0]) is None:
        return "absent"
    try:
        done = subprocess.run(
            list(command), capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    found = re.search(pattern, done.stdout + done.stderr)
    return found.group(1) if found else "?"


def machine() -> list[tuple[str, str]]:
    """The machine, as the heading of every table the run prints."""
    try:
        import gevent

        gevent_version = gevent.__version__
    except ImportError:
        gevent_version = "absent"
    memory = _first("/proc/meminfo", "MemTotal")
    memory_text = f"{int(memory.split()[0]) / 1024 / 1024:.1f} GiB" if memory else "?"
    os_name = None
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    tools = ", ".join(
        [
            "wrk " + _version(["wrk", "-v"], r"wrk (\S+)"),
            "java " + _version(["java", "-version"], r'version "([^"]+)"'),
            "node " + _version(["node", "--version"], r"v(\S+)"),
        ]
    )
    return [
        ("CPU", _first("/proc/cpuinfo", "model name") or platform.processor() or "?"),
        ("cores", f"{cores} logical, {usable} usable by this process"),
        ("memory", memory_text),
        (
            "OS",
            f"{os_name or platform.system()} (kernel {platform.release()}, {platform.machine()})",
        ),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("gevent", gevent_version),
        ("load average", f"{load} (1, 5, 15 min) at start: other work shares this machine"),
        ("tools", tools),
    ]


# -- numbers and tables -----------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; NaN if there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds * 1000:.1f} ms"


def mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f} MiB"


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    left: int = 1  # how many leading columns are text (left-aligned); numbers go right

    def add(self, *cells: Any) -> None:
        self.rows.append([str(c) for c in cells])

    def render(self) -> str:
        widths = [len(h) for h in self.headers]
        for row in self.rows:
            for i, cell in enumerate(row):
                if i < len(widths):
                    widths[i] = max(widths[i], len(cell))
        line = "  ".join("-" * w for w in widths)

        def fmt(cells: Sequence[str]) -> str:
            padded = [
                c.ljust(w) if i < self.left else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=False))
            ]
            return "  ".join(padded).rstrip()

        out = [f"== {self.title} ==", fmt(self.headers), line]
        out += [fmt(r) for r in self.rows]
        out += [f"  note: {n}" for n in self.notes]
        return "\n".join(out)


@dataclass
class Verdict:
    """One line of the summary: a measured value against its target."""

    workload: str
    measured: str
    target: str
    verdict: str  # PASS, MISS, or "-" where there is no target / nothing was measured


# -- resident memory ------------------------------------------------------------------


def rss_kib(pid: int, key: str = "VmRSS") -> int | None:
    """VmRSS (or VmHWM, the peak) of a process in KiB, from /proc/<pid>/status."""
    value = _first(f"/proc/{pid}/status", f"{key}:")
    return int(value.split()[0]) if value else None


# -- HTTP on loopback ---------------------------------------------------------------------


def request(
    url: str, method: str, path: str, body: Any = None, timeout: float = 10.0
) -> tuple[int, Any]:
    """One request with http.client; (status, parsed JSON or text)."""
    host, port = url.rsplit("//", 1)[1].rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"authorization": f"Bearer {TOKEN}"}
        if payload is not None:
            headers["content-type"] = "application/json"
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode("utf-8", "replace")
    finally:
        connection.close()


# -- the fake in its own process --------------------------------------------------------


def luma_mock_command() -> list[str]:
    script = Path(sys.executable).parent / "luma-mock"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "mock_server.cli"]


class LiveFake:
    """``luma-mock serve --port 0 ...`` in its own process (a `ServedFake`), its output
    in a temp file."""

    def __init__(
        self, *args: str, ready_timeout: float = 30.0, command: list[str] | None = None
    ) -> None:
        self.log_dir = Path(tempfile.mkdtemp(prefix="luma-bench-"))
        self.log = self.log_dir / "serve.log"
        self.started = time.perf_counter()
        try:
            self.served = ServedFake.serve(
                "--host",
                HOST,
                *args,
                command=command or luma_mock_command(),
                output_file=self.log,
                ready_timeout=ready_timeout,
            )
        except RuntimeError as failed:
            shutil.rmtree(self.log_dir, ignore_errors=True)
            raise RuntimeError(f"luma-mock serve did not start: {str(failed)[-800:]}") from None
        self.process = self.served.process
        self.url = self.served.url

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss(self) -> int | None:
        return rss_kib(self.pid)

    def health(self) -> dict[str, Any]:
        status, body = request(self.url, "GET", "/health")
        if status != 200 or not isinstance(body, dict):
            raise RuntimeError(f"/health answered {status}: {body!r}")
        return body

    def log_tail(self, chars: int = 600) -> str:
        return self.served.output[-chars:]

    def log_count(self, pattern: str) -> int:
        return sum(1 for line in self.served.lines if pattern in line)

    def stop(self) -> None:
        self.served.stop(timeout=10)
        shutil.rmtree(self.log_dir, ignore_errors=True)

    def __enter__(self) -> LiveFake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def live_fake(*args: str) -> Iterator[LiveFake]:
    fake = LiveFake(*args)
    try:
        yield fake
    finally:
        fake.stop()


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time a process has used, from /proc/<pid>/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Section:
    """What one workload hands back: its tables and its lines of the summary."""

    name: str
    tables: list[Table] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    summary: list[Table] = field(default_factory=list)  # shown again under the summary
