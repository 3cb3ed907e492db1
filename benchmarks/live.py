"""Workloads against ``luma-mock serve`` in its own process: start-up, held synchronous
requests, callbacks falling due together, and memory per stored task."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections import Counter
from typing import Any

from benchmarks.aclient import Answer, FastReceiver, post_many, post_once
from benchmarks.harness import (
    PROMPT,
    LiveFake,
    Section,
    Table,
    Verdict,
    mib,
    ms,
    percentile,
    raise_open_file_limit,
    request,
    rss_kib,
)

# -- start-up ---------------------------------------------------------------------------


def startup(quick: bool) -> Section:
    """Process start to the first successful request of ``luma-mock serve --port 0``."""
    runs = 5
    to_banner: list[float] = []
    to_answer: list[float] = []
    for _ in range(runs):
        fake = LiveFake("--delay", "instant")  # LiveFake notes the time before it spawns
        try:
            banner_at = time.perf_counter()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    status, _ = request(
                        fake.url, "POST", "/luma/videos", {"prompt": PROMPT, "async": True}, 2
                    )
                except OSError:
                    status = 0
                if status == 200:
                    break
                time.sleep(0.002)
            else:
                raise RuntimeError("no successful request within 20 s of start")
            answered_at = time.perf_counter()
            to_banner.append(banner_at - fake.started)
            to_answer.append(answered_at - fake.started)
        finally:
            fake.stop()
    table = Table(
        f"Start-up: luma-mock serve --port 0, process start to first 200 (median of {runs})",
        ["measure", "median", "min", "max"],
    )
    for label, values in (("to the banner", to_banner), ("to the first 200", to_answer)):
        table.add(label, ms(statistics.median(values)), ms(min(values)), ms(max(values)))
    section = Section("startup", [table])
    section.verdicts.append(
        Verdict("start-up to first 200", ms(statistics.median(to_answer)), "(no target)", "-")
    )
    return section


# -- held synchronous requests ---------------------------------------------------------------


class RssSampler:
    """Samples a process's VmRSS every ``interval`` seconds in a thread, until stopped."""

    def __init__(self, pid: int, interval: float = 0.02, limit: float = 120.0) -> None:
        self.pid, self.interval, self.limit = pid, interval, limit
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        deadline = time.monotonic() + self.limit
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.peak = max(self.peak, rss_kib(self.pid) or 0)
            self._stop.wait(self.interval)


def held(quick: bool) -> Section:
    count, delay, limit = 1000, 2.0, 2.5
    opened = raise_open_file_limit()
    with LiveFake("--delay", f"{delay:g}", "--seed", "3") as fake:
        request(fake.url, "GET", "/health")
        before = fake.rss()

        async def all_at_once() -> list[Answer]:
            calls = [
                post_once(fake.url, "/luma/videos", {"prompt": f"{PROMPT} {i}"}, timeout=30)
                for i in range(count)
            ]
            return await asyncio.wait_for(asyncio.gather(*calls), 60)

        with RssSampler(fake.pid) as sampler:
            started = time.perf_counter()
            answers = asyncio.run(all_at_once())
            wall = time.perf_counter() - started
        peak_hwm = rss_kib(fake.pid, "VmHWM")
        after = fake.rss()
        # When did the fake create each task? Splits each call's time into the fake's
        # intake (client start -> task created) and the hold (created -> answered).
        created_at = asyncio.run(_created_at(fake.url, answers))

    ok = [
        a
        for a in answers
        if a.status == 200 and isinstance(a.body, dict) and a.body.get("state") == "completed"
    ]
    ids = {a.body["task_id"] for a in ok}
    seconds = [a.seconds for a in answers]
    late = [s for s in seconds if s > limit]
    statuses = Counter(a.status if a.status else a.error for a in answers)
    table = Table(
        f"Held synchronous requests: {count} concurrent POST /luma/videos, --delay {delay:g}, "
        "one connection each",
        ["measure", "value"],
    )
    table.add("answered 200 with a completed result", f"{len(ok)} of {count} ({len(ids)} task ids)")
    table.add(
        "answers by status", ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=str))
    )
    table.add(
        "time from own start: p50 / p99 / max",
        " / ".join(ms(x) for x in (percentile(seconds, 50), percentile(seconds, 99), max(seconds))),
    )
    table.add(f"over {limit:g} s", str(len(late)))
    intake = [
        created_at[a.body["task_id"]] - a.wall_started
        for a in ok
        if a.body["task_id"] in created_at
    ]
    hold = [
        a.seconds - (created_at[a.body["task_id"]] - a.wall_started)
        for a in ok
        if a.body["task_id"] in created_at
    ]
    table.add(
        "intake (own start -> task created): p50 / p99 / max",
        " / ".join(ms(percentile(intake, q)) for q in (50, 99, 100)),
    )
    table.add(
        "hold (task created -> answer read): p50 / p99 / max",
        " / ".join(ms(percentile(hold, q)) for q in (50, 99, 100)),
    )
    table.add("whole batch (wall)", ms(wall))
    table.add("server RSS before", mib(before))
    table.add("server RSS peak (sampled / VmHWM)", f"{mib(sampler.peak)} / {mib(peak_hwm)}")
    table.add("server RSS after", mib(after))
    if before and sampler.peak:
        table.add("per held request", f"{(sampler.peak - before) / count:.1f} KiB")
    table.notes.append(f"client: one asyncio process, open-file limit {opened}")
    passed = len(ok) == count and not late
    return Section(
        "held",
        [table],
        [
            Verdict(
                f"{count} held sync calls (--delay {delay:g})",
                f"{len(ok)}/{count} ok, max {ms(max(seconds))}, peak RSS {mib(sampler.peak)}",
                f"all answered, each <= {limit:g} s",
                "PASS" if passed else "MISS",
            )
        ],
    )


async def _created_at(url: str, answers: list[Answer]) -> dict[str, float]:
    """created_at of every task answered, by retrieve_batch in chunks of 100."""
    ids = [a.body["task_id"] for a in answers if isinstance(a.body, dict) and "task_id" in a.body]
    chunks = [ids[i : i + 100] for i in range(0, len(ids), 100)]
    if not chunks:
        return {}
    batches = await post_many(
        url, "/luma/tasks", lambda i: {"action": "retrieve_batch", "ids": chunks[i]}, len(chunks), 4
    )
    return {
        item["id"]: item["created_at"]
        for batch in batches
        if isinstance(batch.body, dict)
        for item in batch.body.get("items", [])
    }


# -- callbacks falling due together --------------------------------------------------------------


def callbacks(quick: bool) -> Section:
    count = 1000
    delay = 3.0 if quick else 5.0
    with LiveFake("--delay", f"{delay:g}", "--seed", "5") as fake:
        created, records, arrivals, _receiver_url, creation = asyncio.run(
            _callback_run(fake.url, count, delay)
        )
        delivered_log = fake.log_count("callback task=")
    by_task = Counter(a.body.get("task_id") for a in arrivals if isinstance(a.body, dict))
    once = sum(1 for t in created if by_task.get(t) == 1)
    twice = sum(1 for t in created if by_task.get(t, 0) > 1)
    missing = sum(1 for t in created if t not in by_task)
    strangers = sum(v for t, v in by_task.items() if t not in set(created))
    first_arrival = {}
    for a in arrivals:
        task_id = a.body.get("task_id") if isinstance(a.body, dict) else None
        if task_id is not None and task_id not in first_arrival:
            first_arrival[task_id] = a.at
    lateness = []
    versus_plan = []
    finished = []
    for task_id, at in first_arrival.items():
        record = records.get(task_id)
        if record is None or record.get("finished_at") is None:
            continue
        finished.append(record["finished_at"])
        lateness.append(at - record["finished_at"])
        versus_plan.append(at - (record["created_at"] + delay))
    table = Table(
        f"Callbacks: {count} async tasks with callback_url, --delay {delay:g}, "
        "to a local asyncio receiver",
        ["measure", "value"],
    )
    table.add(
        f"tasks created ({CREATORS} concurrent connections)", f"{len(created)} in {ms(creation)}"
    )
    table.add(
        "due spread (last - first finished_at)",
        ms(max(finished) - min(finished)) if finished else "-",
    )
    table.add("delivered exactly once", f"{once} of {len(created)}")
    table.add("delivered more than once / never / unknown id", f"{twice} / {missing} / {strangers}")
    table.add(
        "lateness vs finished_at: p50 / p99 / max",
        " / ".join(ms(percentile(lateness, q)) for q in (50, 99, 100)),
    )
    table.add(
        "lateness vs created_at + delay: p50 / p99 / max",
        " / ".join(ms(percentile(versus_plan, q)) for q in (50, 99, 100)),
    )
    table.add("callback lines in the fake's log", str(delivered_log))
    p99 = percentile(lateness, 99)
    passed = once == count and p99 <= 0.250
    return Section(
        "callbacks",
        [table],
        [
            Verdict(
                f"{count} callbacks due together",
                f"p99 lateness {ms(p99)}, {once}/{count} exactly once",
                "p99 <= 250 ms, each exactly once",
                "PASS" if passed else "MISS",
            )
        ],
    )


CREATORS = 256  # concurrent connections creating the callback tasks


async def _callback_run(
    url: str, count: int, delay: float
) -> tuple[list[str], dict[str, dict[str, Any]], list[Any], str, float]:
    receiver = await FastReceiver().start()
    try:
        # All at once, a connection each (as many clients would), so that the tasks,
        # with the same fixed delay, fall due as close together as the fake allows.
        gate = asyncio.Semaphore(CREATORS)

        async def create(i: int) -> Answer:
            body = {"prompt": f"{PROMPT} {i}", "callback_url": receiver.url}
            async with gate:
                return await post_once(url, "/luma/videos", body, timeout=30)

        started = time.perf_counter()
        answers = await asyncio.wait_for(asyncio.gather(*(create(i) for i in range(count))), 120)
        creation = time.perf_counter() - started
        created = [a.body["task_id"] for a in answers if a.status == 200]
        await receiver.wait_count(len(created), timeout=delay + 60)
        await asyncio.sleep(1.0)  # a duplicate would arrive now, if ever
        records: dict[str, dict[str, Any]] = {}
        chunks = [created[i : i + 100] for i in range(0, len(created), 100)]
        batches = await post_many(
            url,
            "/luma/tasks",
            lambda i: {"action": "retrieve_batch", "ids": chunks[i]},
            len(chunks),
            4,
        )
        for batch in batches:
            for item in batch.body.get("items", []) if isinstance(batch.body, dict) else []:
                records[item["id"]] = item
        return created, records, list(receiver.arrivals), receiver.url, creation
    finally:
        await receiver.close()


# -- memory per stored task ----------------------------------------------------------------------


# Enough connections to keep the fake busy: 100,000 tasks in well under a minute.
MEMORY_CONNECTIONS = 64


def memory(quick: bool) -> Section:
    limit = 10_000
    checkpoints = (10_000, 20_000, 30_000) if quick else (10_000, 50_000, 100_000)
    table = Table(
        f"Memory: async tasks into --max-tasks {limit} --delay instant "
        f"({MEMORY_CONNECTIONS} keep-alive connections)",
        ["tasks created", "RSS", "stored", "evicted", "create rate"],
    )
    with LiveFake("--max-tasks", str(limit), "--delay", "instant", "--seed", "9") as fake:
        asyncio.run(_create(fake.url, 200))  # warm the code paths before the baseline
        base_stored = fake.health()["tasks"]
        base = fake.rss()
        table.add("200 (warm-up)", mib(base), str(base_stored), "0", "-")
        created = 200
        rss_at: dict[int, int | None] = {}
        for checkpoint in checkpoints:
            started = time.perf_counter()
            ok = asyncio.run(_create(fake.url, checkpoint - created))
            elapsed = time.perf_counter() - started
            created += ok
            time.sleep(0.2)
            stored = fake.health()["tasks"]
            rss_at[checkpoint] = fake.rss()
            table.add(
                f"{created:,}",
                mib(rss_at[checkpoint]),
                f"{stored:,}",
                f"{created - stored:,}",
                f"{ok / elapsed:,.0f}/s",
            )
    first = rss_at.get(checkpoints[0])
    last = rss_at.get(checkpoints[-1])
    per_task = (first - base) * 1024 / (checkpoints[0] - 200) if first and base else None
    table.notes.append(
        "evicted = created - /health tasks (the store's own evicted count is not exposed over HTTP)"
    )
    table.notes.append(
        "per stored task includes its journal entry (journal_limit is 10,000 as well)"
    )
    section = Section("memory", [table, _callback_memory(quick)])
    measured = (
        f"{per_task / 1024:.1f} KiB/task; RSS {mib(first)} at {checkpoints[0]:,}, "
        f"{mib(last)} at {checkpoints[-1]:,}"
        if per_task is not None
        else "-"
    )
    section.verdicts.append(
        Verdict("memory per stored task / plateau", measured, "(no target)", "-")
    )
    return section


def _callback_memory(quick: bool) -> Table:
    """The same past the store's limit, but every task with a callback_url: does anything
    kept per callback outlive the task it belongs to?"""
    limit = 1_000
    checkpoints = (limit, 5_000, 10_000) if quick else (limit, 10_000, 20_000)
    table = Table(
        f"Memory with callbacks: tasks with callback_url into --max-tasks {limit:,} "
        "--delay instant, delivered to a local receiver",
        ["tasks created", "RSS", "stored", "callbacks received"],
    )
    with LiveFake("--max-tasks", str(limit), "--delay", "instant", "--seed", "11") as fake:

        async def phase(receiver: FastReceiver, start: int, stop: int) -> None:
            await post_many(
                fake.url,
                "/luma/videos",
                lambda i: {"prompt": PROMPT, "callback_url": receiver.url},
                stop - start,
                MEMORY_CONNECTIONS,
            )
            await receiver.wait_count(stop, timeout=60)

        async def run_all() -> list[tuple[int, int | None, int, int]]:
            receiver = await FastReceiver().start()
            rows = []
            try:
                created = 0
                for checkpoint in checkpoints:
                    await phase(receiver, created, checkpoint)
                    created = checkpoint
                    await asyncio.sleep(0.3)
                    rows.append(
                        (created, fake.rss(), fake.health()["tasks"], len(receiver.arrivals))
                    )
            finally:
                await receiver.close()
            return rows

        rows = asyncio.run(run_all())
    for created, rss, stored, received in rows:
        table.add(f"{created:,}", mib(rss), f"{stored:,}", f"{received:,}")
    if len(rows) >= 3 and rows[-2][1] and rows[-1][1]:
        # From the second checkpoint on, the store (1,000) and the journal (10,000 entries:
        # a request and a callback per task) are both full: what still grows is kept per
        # callback beyond its task.
        grown = (rows[-1][1] - rows[-2][1]) * 1024 / (rows[-1][0] - rows[-2][0])
        table.notes.append(
            f"growth from {rows[-2][0]:,} to {rows[-1][0]:,}: {grown:,.0f} bytes per callback "
            "task, with the store and the journal already full (bounded memory would be ~0)"
        )
    return table


async def _create(url: str, count: int) -> int:
    answers = await post_many(
        url, "/luma/videos", lambda i: {"prompt": PROMPT, "async": True}, count, MEMORY_CONNECTIONS
    )
    return sum(1 for a in answers if a.status == 200)
