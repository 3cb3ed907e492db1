"""The fake in process, with no socket: what a test fixture pays to start it, and what one
call costs through the in-process transports of `mock_server.web.transports` (``requests``
through `responses`, and an httpx transport).

`in_process_rows()` is the hook `run.py` calls: it returns [] while
`mock_server.web.transports` cannot be imported, so the suite runs on a tree without it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

HEADERS = ["measure", "p50", "p99", "calls"]
BASE = "https://api.acedata.cloud"
AUTH = {"Authorization": "Bearer bench-token"}
PROMPT = "Astronauts shuttle from space to volcano"


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs"


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[max(0, -(-99 * len(ordered) // 100) - 1)]
    return statistics.median(ordered), p99


def _timed(call: Callable[[], Any], calls: int, limit: float = 20.0) -> list[float]:
    """Time ``call`` up to ``calls`` times, and for at most ``limit`` seconds."""
    samples: list[float] = []
    deadline = time.monotonic() + limit
    for _ in range(calls):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
        if time.monotonic() > deadline:
            break
    return samples


def in_process_rows(quick: bool = False) -> list[list[str]]:
    """Rows under `HEADERS`, or [] if the in-process transports are not there yet."""
    try:
        from mock_server.web import transports
    except ImportError:
        return []
    from mock_server.acedata.service import LumaService
    from mock_server.engine.config import Settings
    from mock_server.web.app import create_app

    rows: list[list[str]] = []
    settings = Settings().with_values({"delay": "instant"})

    # Start-up, as a fixture does it per test: a service and its app.
    starts = []
    for _ in range(5 if quick else 20):
        started = time.perf_counter()
        service = LumaService(settings)
        create_app(service)
        starts.append(time.perf_counter() - started)
        service.close()
    p50, p99 = _percentiles(starts)
    rows.append(["LumaService + create_app start", _us(p50), _us(p99), str(len(starts))])

    calls = 200 if quick else 2000
    service = LumaService(settings)
    app = create_app(service)
    try:
        rows += _responses_rows(transports, app, calls)
        rows += _httpx_rows(transports, app, calls)
    finally:
        service.close()
    return rows


def _responses_rows(transports: Any, app: Any, calls: int) -> list[list[str]]:
    make = getattr(transports, "responses_mock", None)
    if make is None:
        return [["requests via responses", "-", "-", "no responses_mock() in transports"]]
    import requests

    rows = []
    session = requests.Session()
    with make(app):
        task_id = session.post(
            f"{BASE}/luma/videos", json={"prompt": PROMPT, "async": True}, headers=AUTH
        ).json()["task_id"]
        for label, path, body in _workloads(task_id):

            def call(path: str = path, body: dict[str, Any] = body) -> None:
                answer = session.post(f"{BASE}{path}", json=body, headers=AUTH)
                if answer.status_code != 200:
                    raise RuntimeError(f"{path} answered {answer.status_code}")

            call()  # warm
            samples = _timed(call, calls)
            p50, p99 = _percentiles(samples)
            rows.append([f"requests via responses: {label}", _us(p50), _us(p99), str(len(samples))])
    return rows


def _httpx_rows(transports: Any, app: Any, calls: int) -> list[list[str]]:
    make = getattr(transports, "httpx_transport", None)
    if make is None:
        return [["httpx transport", "-", "-", "no httpx_transport() in transports"]]
    import httpx

    rows = []
    with httpx.Client(transport=make(app), base_url=BASE, headers=AUTH) as client:
        task_id = client.post("/luma/videos", json={"prompt": PROMPT, "async": True}).json()[
            "task_id"
        ]
        for label, path, body in _workloads(task_id):

            def call(path: str = path, body: dict[str, Any] = body) -> None:
                answer = client.post(path, json=body)
                if answer.status_code != 200:
                    raise RuntimeError(f"{path} answered {answer.status_code}")

            call()
            samples = _timed(call, calls)
            p50, p99 = _percentiles(samples)
            rows.append([f"httpx transport: {label}", _us(p50), _us(p99), str(len(samples))])
    return rows


def _workloads(task_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("POST /luma/tasks retrieve", "/luma/tasks", {"action": "retrieve", "id": task_id}),
        ("POST /luma/videos async", "/luma/videos", {"prompt": PROMPT, "async": True}),
    ]
