"""What a reset costs: the control call run before every test on a shared fake.

    python benchmarks/control.py

Prints p50/p99 of `LumaService.reset()` in process and of `POST /__admin/reset` through
the Flask app in process, each after a little state (tasks, a rule) was made.
"""

from __future__ import annotations

import platform
import time

from mock_server.acedata.service import LumaService
from mock_server.engine.clock import ManualClock
from mock_server.engine.config import Settings
from mock_server.web.app import create_app


def _dirty(luma: LumaService) -> None:
    for _ in range(5):
        luma.videos({"prompt": "x", "async": True}, token="t", base_url="http://fake.test")
    luma.scenarios.add({"then": {"succeed": True}})


def _percentiles(samples: list[float]) -> tuple[float, float]:
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99) - 1]


def main(rounds: int = 500) -> None:
    luma = LumaService(Settings(clock="manual"), clock=ManualClock(0.0))
    client = create_app(luma).test_client()
    direct, over_http = [], []
    for _ in range(rounds):
        _dirty(luma)
        started = time.perf_counter()
        luma.reset()
        direct.append(time.perf_counter() - started)
        _dirty(luma)
        started = time.perf_counter()
        client.post("/__admin/reset")
        over_http.append(time.perf_counter() - started)
    print(f"{platform.platform()} | {platform.python_implementation()} {platform.python_version()}")
    print(f"{'reset':<40}{'p50 µs':>10}{'p99 µs':>10}  target ≤ 1000 µs")
    for name, samples in (
        ("LumaService.reset()", direct),
        ("POST /__admin/reset (in process)", over_http),
    ):
        p50, p99 = _percentiles(samples)
        verdict = "PASS" if p99 <= 1e-3 else "MISS"
        print(f"{name:<40}{p50 * 1e6:>10.1f}{p99 * 1e6:>10.1f}  {verdict}")


if __name__ == "__main__":
    main()
