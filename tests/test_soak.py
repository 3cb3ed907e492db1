"""The short soak (`benchmarks/soak.py`): the mixed load in two phases on each store,
and what the second phase leaves behind is no more than the first did — descriptors,
threads, tasks, Redis keys — with everything kept within its cap. Counts only: no
assertion here is about speed or memory."""

from __future__ import annotations

from benchmarks.soak import CAPS, soak
from mock_server.engine.shared.lane import KEEP_IDLE

SECONDS = 30  # of load in all, two phases
# Descriptors a settled fake may hold beyond its start: each dialect's callback sender
# keeps up to 32 idle connections to a receiver (`engine.sender`), more with --workers;
# on a shared store each process's lane keeps up to `KEEP_IDLE` to Redis.
KEPT_CALLBACK_CONNECTIONS = 2 * 32


def assert_no_growth(report: object, workers: int = 1, store: str = "memory") -> None:
    first, second = report.settled  # type: ignore[attr-defined]
    start = report.baseline  # type: ignore[attr-defined]
    per_process = KEPT_CALLBACK_CONNECTIONS + (KEEP_IDLE if store == "redis" else 0)
    kept = per_process * workers + 8
    assert first["fds"] <= start["fds"] + kept and second["fds"] <= start["fds"] + kept, (
        start,
        first,
        second,
    )
    assert second["threads"] <= first["threads"] + 2, (first, second)
    assert second["held"] == 0 and second["connections"] <= 2, second
    assert second["tasks"] <= CAPS["tasks"]  # every dialect's, each within --max-tasks
    assert report.ops > 100  # type: ignore[attr-defined]  # the load did run


def test_the_short_soak_on_memory_leaves_nothing_behind() -> None:
    report = soak(SECONDS, "memory", every=5.0, phases=2)
    assert_no_growth(report)


def test_the_short_soak_on_redis_with_two_workers_leaves_nothing_behind(redis_url: str) -> None:
    report = soak(SECONDS, "redis", workers=2, every=5.0, phases=2, redis_url=redis_url)
    assert_no_growth(report, workers=2, store="redis")
    # Keys are bounded by the caps, per dialect: a key per task kept, and two per
    # delivery log kept (its state and its attempts), as many logs as tasks; plus the
    # journal's few and the fake's own handful.
    keys = [settled["redis_keys"] for settled in report.settled]
    assert max(keys) <= CAPS["redis_keys"], keys
