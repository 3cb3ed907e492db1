"""The two hot paths — ``POST /luma/tasks`` retrieve and ``POST /luma/videos`` async —
through the fake's WSGI app in process, no socket: time and, under callgrind, CPU
instructions per request. Instructions do not move with whatever else the machine runs,
so two trees (before and after a refactor) compare on them even on a busy host.

    .venv/bin/python benchmarks/hotpath.py                 # wall time per request
    .venv/bin/python benchmarks/hotpath.py --instructions  # the same under callgrind
    .venv/bin/python benchmarks/hotpath.py --store redis://127.0.0.1:6379/15  # shared store

With ``--store`` the fake keeps its state on that Redis (emptied first: give it a
database of its own); instructions then count the fake's process only, not Redis's.

It imports only the public paths (``mock_server.acedata.service.LumaService``,
``mock_server.web.app.create_app``), so it runs unchanged on any tree that keeps them.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

WARMUP, CALLS = 500, 3000
TOKEN = "Bearer bench-token"
PROMPT = "Astronauts shuttle from space to volcano"


def _environ(path: str, body: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    raw = json.dumps(body).encode()

    def make() -> dict[str, Any]:
        return {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_AUTHORIZATION": TOKEN,
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(raw)),
            "wsgi.input": io.BytesIO(raw),
            "wsgi.url_scheme": "http",
        }

    return make


def workloads(store: str = "memory") -> dict[str, Callable[[], None]]:
    """One callable per hot path, each making one request through the app."""
    from mock_server.acedata.service import LumaService
    from mock_server.engine.config import Settings
    from mock_server.web.app import create_app

    values = {"delay": "instant", "max_tasks": 1000}
    if store != "memory":  # only then: the option is newer than the public paths
        import redis

        redis.Redis.from_url(store).flushdb()
        values["store"] = store
    luma = LumaService(Settings().with_values(values))
    app = create_app(luma).wsgi_app
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    def call(make: Callable[[], dict[str, Any]]) -> Callable[[], None]:
        def one() -> None:
            for _ in app(make(), start_response):
                pass
            if not statuses.pop().startswith("200"):
                raise SystemExit("a hot-path request was not answered 200")

        return one

    generate = _environ("/luma/videos", {"prompt": PROMPT, "async": True})
    call(generate)()
    task_id = luma.store.__iter__().__next__().id
    retrieve = _environ("/luma/tasks", {"action": "retrieve", "id": task_id})
    return {"retrieve": call(retrieve), "async generate": call(generate)}


def measure(calls: int, store: str = "memory") -> dict[str, float]:
    """Microseconds per request, after a warm-up."""
    results = {}
    for name, one in workloads(store).items():
        for _ in range(WARMUP):
            one()
        started = time.perf_counter()
        for _ in range(calls):
            one()
        results[name] = (time.perf_counter() - started) / calls * 1e6
    return results


def _callgrind(name: str, calls: int, store: str = "memory") -> int:
    """Instructions of ``calls`` requests of one workload (its set-up subtracted)."""

    def run(n: int) -> int:
        with tempfile.TemporaryDirectory() as folder:
            out = os.path.join(folder, "cg.out")
            subprocess.run(
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                 sys.executable, __file__, "--inner", name, str(n), "--store", store],
                check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "0"},
            )  # fmt: skip
            with open(out, encoding="utf-8") as data:
                totals = re.search(r"^(?:summary|totals): (\d+)", data.read(), re.M)
            if totals is None:
                raise SystemExit("callgrind wrote no totals")
            return int(totals.group(1))

    return (run(calls) - run(0)) // calls if calls else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instructions", action="store_true", help="count under callgrind")
    parser.add_argument("--store", default="memory", help="memory, or a Redis URL (emptied)")
    parser.add_argument("--inner", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:  # one run under callgrind: set up, warm up, then n requests
        name, n = args.inner[0], int(args.inner[1])
        one = workloads(args.store)[name]
        for _ in range(200):
            one()
        for _ in range(n):
            one()
        return
    print(f"{'hot path':<16} {'µs/request':>11}" + ("  instructions/request" * args.instructions))
    wall = measure(CALLS, args.store)
    for name, micros in wall.items():
        line = f"{name:<16} {micros:>11.1f}"
        if args.instructions:
            line += f"  {_callgrind(name, 1000, args.store):>20,}"
        print(line)


if __name__ == "__main__":
    main()
