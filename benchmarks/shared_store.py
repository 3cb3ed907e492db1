"""The shared store (Redis) beside the in-memory store, over real sockets:

- server CPU time per request and throughput, for ``POST /luma/tasks`` retrieve and
  ``POST /luma/videos`` ``async: true``: in memory (1 process), on Redis with 1 worker
  and with 2 workers (``--workers 2``); the CPU is the servers' own (every process of
  the server: supervisor and workers, from /proc), not the load generator's nor Redis's;
- the lateness of 1,000 callbacks falling due within about a second, across 2 processes
  on one store (received - planned end, real clock): p50, p99, max, and none lost or
  sent twice;
- recovery after a SIGKILL: two processes, 200 tasks with callbacks due 2 s on; one
  process is SIGKILLed just before they fall due; the time from the kill until the last
  callback arrives (bounded by the lease, here ``?lease=1``), and none lost or twice.

    .venv/bin/python benchmarks/shared_store.py [--requests 3000] [--callbacks 1000]

It starts its own ``redis-server`` (Debian's, on a free loopback port) and the fakes, and
stops them all at the end. Targets (issue 14): the Redis store at most 2x the in-memory
CPU per request; callbacks p99 lateness <= 250 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mock_server.harness.process import ServedFake
from mock_server.harness.receiver import CallbackReceiver

AUTH = {"Authorization": "Bearer bench-token"}
PROMPT = "Astronauts shuttle from space to volcano"
THREADS = 8
TICKS = os.sysconf("SC_CLK_TCK")


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("no redis-server on PATH (apt-get install redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="luma-bench-redis-")
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen([binary, *args, "--dir", folder], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    for line in server.stdout:
        if "Ready to accept connections" in line:
            break
    threading.Thread(target=server.stdout.read, daemon=True).start()
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(folder, ignore_errors=True)


def flush(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushall()


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its children, from /proc."""
    total = 0.0
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry))
    todo = [pid]
    while todo:
        current = todo.pop()
        fields = stats.get(current)
        if fields is not None:
            total += (int(fields[11]) + int(fields[12])) / TICKS
        todo.extend(children.get(current, []))
    return total


def load(url: str, path: str, body: dict[str, Any], count: int) -> float:
    """``count`` requests from THREADS keep-alive clients; the wall seconds taken."""
    per = count // THREADS

    def client() -> None:
        with requests.Session() as session:
            for _ in range(per):
                answer = session.post(url + path, json=body, headers=AUTH, timeout=30)
                if answer.status_code != 200:
                    raise SystemExit(f"{path} answered {answer.status_code}: {answer.text}")

    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def per_request(store: str, workers: int, count: int) -> dict[str, tuple[float, float]]:
    """{path: (server CPU µs per request, requests per second)}."""
    args = ["--delay", "3600", "--log-level", "warning", "--max-tasks", "100000"]
    if store != "memory":
        flush(store)
        args += ["--store", store, "--workers", str(workers)]
    fake = ServedFake.serve(*args)
    try:
        url = fake.url
        made = requests.post(url + "/luma/videos", json={"prompt": PROMPT, "async": True},
                             headers=AUTH, timeout=30).json()["task_id"]  # fmt: skip
        work = {
            "retrieve": ("/luma/tasks", {"action": "retrieve", "id": made}),
            "async generate": ("/luma/videos", {"prompt": PROMPT, "async": True}),
        }
        results = {}
        for name, (path, body) in work.items():
            load(url, path, body, count // 5)  # warm up
            before = tree_cpu(fake.pid)
            seconds = load(url, path, body, count)
            cpu = tree_cpu(fake.pid) - before
            done = count // THREADS * THREADS
            results[name] = (cpu / done * 1e6, done / seconds)
        return results
    finally:
        fake.stop(signal.SIGTERM, timeout=30)


def lateness(store: str, callbacks: int) -> tuple[list[float], int, int]:
    """Two processes, ``callbacks`` tasks due within about a second: each callback's
    lateness in ms; how many arrived; how many task ids arrived twice."""
    flush(store)
    due_in = 10.0
    args = ["--store", store, "--delay", str(due_in), "--log-level", "warning",
            "--callback-allow", "127.0.0.1"]  # fmt: skip
    with CallbackReceiver() as receiver:
        _stamp(receiver)
        fakes = [ServedFake.serve(*args) for _ in range(2)]
        try:
            planned: dict[str, float] = {}
            lock = threading.Lock()

            def create(fake: ServedFake, n: int) -> None:
                with requests.Session() as session:
                    for _ in range(n):
                        body = {"prompt": PROMPT, "async": True, "callback_url": receiver.url}
                        answer = session.post(fake.url + "/luma/videos", json=body,
                                              headers=AUTH, timeout=30).json()  # fmt: skip
                        record = session.post(fake.url + "/luma/tasks",
                                              json={"id": answer["task_id"]}, headers=AUTH,
                                              timeout=30).json()  # fmt: skip
                        with lock:
                            planned[answer["task_id"]] = record["created_at"] + due_in

            per = callbacks // THREADS
            threads = [
                threading.Thread(target=create, args=(fakes[n % 2], per)) for n in range(THREADS)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            arrived = receiver.wait_count(len(planned), timeout=due_in + 60)
            ids = [c.task_id for c in arrived]
            twice = len(ids) - len(set(ids))
            at = _arrivals(receiver)
            late = [(at[t] - planned[t]) * 1000 for t in planned if t in at]
            return late, len(set(ids)), twice
        finally:
            for fake in fakes:
                fake.stop(signal.SIGTERM, timeout=30)


_ARRIVALS: dict[int, dict[str, float]] = {}


def _arrivals(receiver: CallbackReceiver) -> dict[str, float]:
    return _ARRIVALS.setdefault(id(receiver), {})


def _stamp(receiver: CallbackReceiver) -> None:
    """Note each callback's arrival time (wall clock), as it is recorded."""
    arrivals = _arrivals(receiver)
    original = receiver._record

    def record(path: str, headers: dict[str, str], raw: bytes) -> int:
        status = original(path, headers, raw)
        body = receiver.received[-1].body
        if isinstance(body, dict) and body.get("task_id"):
            arrivals.setdefault(body["task_id"], time.time())
        return status

    receiver._record = record  # type: ignore[method-assign]


def recovery(store: str, tasks: int = 200) -> tuple[float, int, int]:
    """Seconds from a SIGKILL of one of two processes until the last callback came;
    how many arrived; how many twice."""
    flush(store)
    due_in = 2.0
    args = ["--store", store + "?lease=1", "--delay", str(due_in), "--log-level", "warning",
            "--callback-allow", "127.0.0.1"]  # fmt: skip
    with CallbackReceiver() as receiver:
        _stamp(receiver)
        victim, survivor = ServedFake.serve(*args), ServedFake.serve(*args)
        try:
            started = time.time()
            with requests.Session() as session:
                for n in range(tasks):
                    fake = (victim, survivor)[n % 2]
                    body = {"prompt": PROMPT, "async": True, "callback_url": receiver.url}
                    session.post(fake.url + "/luma/videos", json=body, headers=AUTH, timeout=30)
            time.sleep(max(0.0, started + due_in - 0.05 - time.time()))  # just before due
            victim.stop(signal.SIGKILL, timeout=10)
            killed = time.time()
            arrived = receiver.wait_count(tasks, timeout=60)
            ids = [c.task_id for c in arrived]
            last = max(_arrivals(receiver).values())
            return last - killed, len(set(ids)), len(ids) - len(set(ids))
        finally:
            survivor.stop(signal.SIGTERM, timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--callbacks", type=int, default=1000)
    args = parser.parse_args()
    with redis_server() as store:
        rows = [
            ("memory, 1 process", per_request("memory", 1, args.requests)),
            ("redis, 1 worker", per_request(store, 1, args.requests)),
            ("redis, 2 workers", per_request(store, 2, args.requests)),
        ]
        base = rows[0][1]
        print(f"{'store':<20} {'hot path':<16} {'server CPU µs/req':>18} {'x memory':>9} "
              f"{'req/s':>8}")  # fmt: skip
        for label, results in rows:
            for name, (cpu, rate) in results.items():
                ratio = cpu / base[name][0]
                print(f"{label:<20} {name:<16} {cpu:>18.0f} {ratio:>8.1f}x {rate:>8.0f}")
        late, arrived, twice = lateness(store, args.callbacks)
        p50 = statistics.median(late)
        p99 = sorted(late)[int(len(late) * 0.99) - 1]
        print(f"\n{args.callbacks} callbacks due within ~1 s, 2 processes on one store: "
              f"lateness p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {max(late):.0f} ms; "
              f"{arrived} arrived, {twice} twice (target p99 <= 250 ms)")  # fmt: skip
        seconds, delivered, doubled = recovery(store)
        print(f"SIGKILL of one of 2 processes as 200 callbacks fall due (lease 1 s): last "
              f"callback {seconds:.2f} s after the kill; {delivered}/200 delivered, "
              f"{doubled} twice")  # fmt: skip


if __name__ == "__main__":
    main()
