"""A long mixed load against ``luma-mock serve``, sampling what would leak: does every
resource stay flat?

    .venv/bin/python benchmarks/soak.py --minutes 30
    .venv/bin/python benchmarks/soak.py --minutes 30 --store redis --workers 2

The load, all at once for the whole run: creates and polls in both dialects; synchronous
calls held to their end and abandoned by their client; callbacks to receivers that
answer, fail and hang, in turns (each "recovers" every few seconds); dashboards' event
streams opened and dropped, or left unread; answers broken on the wire (reset,
truncated, hanging); clients that drop mid-request or leave idle connections behind.

Sampled every few seconds (the server's processes summed): RSS, descriptors, threads,
open connections and held calls (from /health), tasks kept, Redis keys and memory, and
the p99 latency of a retrieve. It prints the first sample after the warm-up against the
last, with a verdict per row: flat within noise, or growing so much an hour.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import LiveFake, percentile

MAX_TASKS = 500
JOURNAL = 1_000
IDLE = 3.0  # the fake's idle and request timeouts in the soak, seconds
AUTH = {"Authorization": "Bearer soak-token"}
DM = "/dream-machine/v1/generations"
RULES = [  # socket faults, picked per request with X-Luma-Mock-Scenario
    {"match": {"scenario": kind}, "then": {"fault": kind, "seconds": 1}}
    for kind in ("reset", "truncated", "hang", "empty")
]
# Rows: what /proc, /health and Redis say, and how much change is noise.
NOISE = {"rss_kib": 0.05, "fds": 8, "threads": 2, "connections": 16, "held": 16}
# What fills up to a cap by design: each dialect's tasks (the load speaks two, and
# /health counts every dialect's); on Redis a key per task and two per delivery log
# kept, per dialect, and a handful of the fake's own.
DIALECTS = 2
CAPS = {"tasks": DIALECTS * MAX_TASKS, "redis_keys": DIALECTS * (MAX_TASKS + 2 * MAX_TASKS) + 50}
# Descriptors a settled fake may hold beyond its start: each dialect's callback sender
# keeps up to 32 idle connections to a receiver (`engine.sender`), per worker.
KEPT = 2 * 32 * 2 + 8


class FlakyReceiver:
    """A callback receiver that answers 200, then 500, then hangs (past the fake's
    callback timeout), a few seconds each, round and round."""

    MODES = ("ok", "fail", "hang")

    def __init__(self, period: float = 4.0) -> None:
        self.started, self.period = time.monotonic(), period
        self.received = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.received += 1
                mode = owner.mode()
                if mode == "hang":
                    time.sleep(2.0)  # longer than the fake's 1 s callback timeout
                status = 200 if mode == "ok" else 500
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

            def handle(self) -> None:
                with suppress(ConnectionError):  # the fake gave up on a hanging answer
                    super().handle()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 512
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def mode(self) -> str:
        turn = int((time.monotonic() - self.started) / self.period)
        return self.MODES[turn % len(self.MODES)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Load:
    url: str
    receiver: str
    stop: threading.Event = field(default_factory=threading.Event)
    latencies: list[float] = field(default_factory=list)  # retrieves since the last sample
    errors: int = 0
    ops: int = 0

    def timed(self, call: Callable[..., requests.Response], *args: Any, **kwargs: Any) -> Any:
        """``call(*args, **kwargs)``, its latency kept; None if it failed."""
        started = time.perf_counter()
        try:
            answer = call(*args, headers=AUTH, timeout=10, **kwargs)
        except requests.RequestException:
            self.errors += 1
            return None
        self.latencies.append(time.perf_counter() - started)
        self.ops += 1
        return answer


def clients(load: Load) -> None:
    """Creates and polls in both dialects; sync calls held and abandoned; callbacks."""
    rng = random.Random()
    url = load.url
    with requests.Session() as session:
        while not load.stop.is_set():
            body: dict[str, Any] = {"prompt": "soak", "async": True}
            if rng.random() < 0.3:
                body = {"prompt": "soak", "callback_url": load.receiver}
            answer = load.timed(session.post, url + "/luma/videos", json=body)
            if answer is not None and answer.ok:
                task = {"id": answer.json()["task_id"]}
                load.timed(session.post, url + "/luma/tasks", json=task)
            generation = {"model": "ray-2", "prompt": "soak", "callback_url": load.receiver}
            made = load.timed(session.post, f"{url}{DM}/video", json=generation)
            if made is not None and made.ok:
                load.timed(session.get, f"{url}{DM}/{made.json()['id']}")
            held = {"prompt": "soak held"}
            timeout = 10.0 if rng.random() < 0.5 else 0.05  # held to the end, or abandoned
            try:
                session.post(url + "/luma/videos", json=held, headers=AUTH, timeout=timeout)
            except requests.RequestException:
                session.close()  # the abandoned call's connection is gone


def faults(load: Load) -> None:
    """Answers broken on the wire, and clients that drop mid-request or go idle."""
    host, port = load.url.removeprefix("http://").rsplit(":", 1)
    rng = random.Random()
    while not load.stop.is_set():
        scenario = rng.choice(("reset", "truncated", "hang", "empty"))
        headers = {**AUTH, "X-Luma-Mock-Scenario": scenario}
        body = {"prompt": "soak", "async": True}
        with suppress(requests.RequestException):
            requests.post(load.url + "/luma/videos", json=body, headers=headers, timeout=3)
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            kind = rng.random()
            if kind < 0.4:  # half a request, then gone
                sock.sendall(b"POST /luma/videos HTTP/1.1\r\nContent-Length: 50\r\n\r\n{")
            elif kind < 0.8:  # a whole request, gone before the answer
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            else:  # never a word: the server's idle timeout closes it
                load.stop.wait(0.5)


def dashboards(load: Load) -> None:
    """Event streams opened, read a little and dropped; or opened and never read."""
    host, port = load.url.removeprefix("http://").rsplit(":", 1)
    while not load.stop.is_set():
        try:
            with requests.get(load.url + "/__admin/events", stream=True, timeout=5) as events:
                for n, _ in enumerate(events.iter_lines()):
                    if n > 3:
                        break
        except requests.RequestException:
            load.errors += 1
        with socket.create_connection((host, int(port)), timeout=5) as unread:
            unread.sendall(b"GET /__admin/events HTTP/1.1\r\nHost: x\r\n\r\n")
            load.stop.wait(2.0)  # a browser tab that stopped reading, then closed


# -- sampling ---------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and its children (a `--workers` supervisor's workers)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *(int(c) for c in children)]


def status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def sample(fake: LiveFake, load: Load, redis_url: str | None) -> dict[str, float]:
    pids = process_tree(fake.pid)
    health = requests.get(fake.url + "/health", timeout=10).json()
    row: dict[str, float] = {
        "rss_kib": sum(status_field(p, "VmRSS") for p in pids),
        "fds": sum(len(list(Path(f"/proc/{p}/fd").iterdir())) for p in pids),
        "threads": sum(status_field(p, "Threads") for p in pids),
        "connections": float(health.get("connections") or 0),
        "held": float(health.get("held_calls") or 0),
        "tasks": float(health["tasks"]),
    }
    if redis_url is not None:
        import redis

        client = redis.Redis.from_url(redis_url)
        row["redis_keys"] = float(client.dbsize())
        row["redis_kib"] = client.info("memory")["used_memory"] / 1024
        client.close()
    window, load.latencies = load.latencies, []
    row["p99_ms"] = percentile(sorted(window), 99) * 1000 if window else 0.0
    return row


@dataclass
class Report:
    samples: list[tuple[float, dict[str, float]]]
    settled: list[dict[str, float]]  # after each phase, once what it left open closed
    baseline: dict[str, float]  # before any load
    ops: int
    errors: int

    def table(self) -> str:
        start_at, start = self.samples[len(self.samples) // 4]  # after the warm-up
        end_at, end = self.samples[-1]
        hours = max(end_at - start_at, 1.0) / 3600
        lines = [f"{'measure':<12} {'start':>12} {'end':>12} {'settled':>12}  verdict"]
        for name in end:
            first, last = start[name], end[name]
            noise = NOISE.get(name, 0.1)
            allowed = noise * max(first, 1.0) if noise < 1 else noise
            cap = CAPS.get(name)
            if cap is not None:  # filled up to its cap, by design: is it within?
                verdict = f"within its cap {cap:,}" if last <= cap else f"OVER its cap {cap:,}"
            elif name == "p99_ms":
                verdict = "(latency: no verdict)"
            elif name == "fds" and self.settled[-1]["fds"] <= self.baseline["fds"] + KEPT:
                verdict = "within the start + kept callback connections"
            elif abs(last - first) <= allowed:
                verdict = "flat within noise"
            else:
                verdict = f"growing {(last - first) / hours:+,.0f} per hour"
            settled = self.settled[-1].get(name, float("nan"))
            lines.append(f"{name:<12} {first:>12,.1f} {last:>12,.1f} {settled:>12,.1f}  {verdict}")
        lines.append(f"{self.ops:,} calls timed, {self.errors:,} failed on the client's side")
        return "\n".join(lines)


@contextmanager
def fake_on(store: str, workers: int, redis_url: str | None) -> Iterator[LiveFake]:
    config = {
        "delay": 0.3,
        "max_tasks": MAX_TASKS,
        "journal_limit": JOURNAL,
        "callback_retries": 2,
        "callback_backoff": 0.5,
        "callback_timeout": 1.0,
        "request_timeout": IDLE,
        "idle_timeout": IDLE,
        "log_level": "warning",
        "scenarios": RULES,
    }
    if redis_url is not None:
        config.update(store=redis_url, workers=workers)
    path = Path(f"/tmp/luma-soak-{time.monotonic_ns()}.toml")
    config["scenarios"] = json.dumps(RULES)  # the setting takes its rules as JSON text
    toml = "[luma-mock]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in config.items())
    path.write_text(toml, encoding="utf-8")
    fake = LiveFake("--port", "0", "--config", str(path))
    try:
        yield fake
    finally:
        fake.stop()
        path.unlink(missing_ok=True)


def settle(fake: LiveFake, load: Load, redis_url: str | None) -> dict[str, float]:
    """A sample once what the load left open has closed (idle timeouts, held calls
    answered): /health is asked until it says so several times in a row (with
    --workers each answer is one worker's), for a few idle timeouts at most."""
    deadline, quiet = time.monotonic() + 6 * IDLE, 0
    while quiet < 4 and time.monotonic() < deadline:
        with requests.Session() as session:  # a connection of its own, closed after
            health = session.get(fake.url + "/health", timeout=10).json()
        calm = (health.get("connections") or 0) <= 1 and not health.get("held_calls")
        quiet = quiet + 1 if calm else 0
        time.sleep(0.2)  # nothing to wait on: the fake closes them on its own clock
    return sample(fake, load, redis_url)


def soak(
    seconds: float,
    store: str = "memory",
    workers: int = 1,
    every: float = 5.0,
    phases: int = 1,
    redis_url: str | None = None,
) -> Report:
    """``phases`` runs of the load, ``seconds`` in all, each followed by a settled
    sample (the test compares them: what the second left behind, the first did too)."""
    with ExitStack() as stack:
        if store == "redis":  # a Redis of its own, unless given one (emptied)
            from benchmarks.shared_store import flush, redis_server

            redis_url = redis_url or stack.enter_context(redis_server())
            flush(redis_url)
        else:
            redis_url = None
        fake = stack.enter_context(fake_on(store, workers, redis_url))
        receiver = FlakyReceiver()
        stack.callback(receiver.close)
        load = Load(fake.url, receiver.url)
        baseline = sample(fake, load, redis_url)
        samples: list[tuple[float, dict[str, float]]] = []
        settled: list[dict[str, float]] = []
        started = time.monotonic()
        for _ in range(phases):
            load.stop.clear()
            kinds = [clients] * 4 + [faults, dashboards]
            threads = [threading.Thread(target=kind, args=(load,), daemon=True) for kind in kinds]
            for thread in threads:
                thread.start()
            until = time.monotonic() + seconds / phases
            while (left := until - time.monotonic()) > 0:
                load.stop.wait(min(every, left))
                samples.append((time.monotonic() - started, sample(fake, load, redis_url)))
            load.stop.set()
            for thread in threads:
                thread.join(15)
            settled.append(settle(fake, load, redis_url))
        return Report(samples, settled, baseline, load.ops, load.errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--store", choices=["memory", "redis"], default="memory")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--redis-url", help="a Redis to use (emptied) instead of starting one")
    parser.add_argument("--series", help="write every sample here, a JSON line each (the curve)")
    args = parser.parse_args()
    report = soak(args.minutes * 60, args.store, args.workers, args.every, redis_url=args.redis_url)
    print(f"soak: {args.minutes:g} min, store {args.store}, {args.workers} worker(s)")
    print(report.table())
    if args.series:
        with open(args.series, "w", encoding="utf-8") as out:
            for at, values in report.samples:
                out.write(json.dumps({"at": round(at, 1), **values}) + "\n")


if __name__ == "__main__":
    main()
