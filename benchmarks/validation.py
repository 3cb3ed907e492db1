"""What a contract check costs per call: ``python benchmarks/validation.py``.

The fake validates every request it receives, so a valid request must stay cheap; the
target is 50 µs. `contract.check` asks the compiled engine (jsonschema-rs) first and the
reference (jsonschema) only for a refusal's words; both are timed alone too. Not part of
the test run: timings depend on the machine.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import timeit
from collections.abc import Callable
from typing import Any

from contract_tests import contract

TARGET_US = 50.0
REPEATS = 7
SECONDS_PER_REPEAT = 0.2

GENERATE = {
    "action": "generate",
    "prompt": "Astronauts shuttle from space to volcano",
    "aspect_ratio": "16:9",
    "start_image_url": "https://cdn.acedata.cloud/r9vsv9.png",
    "callback_url": "https://webhook.site/0c87ca0e-cd74-4577-8d68-f2b80fbf8a13",
}
EXTEND = {
    "action": "extend",
    "video_id": "0105c090-03a5-425a-8026-523341cd575b",
    "prompt": "Astronauts shuttle from space to volcano",
}
INVALID = {"action": "extend", "prompt": "   ", "timeout": 0, "loop": "true"}
RETRIEVE = {"action": "retrieve", "id": "e4018a99-1522-4f24-9330-62c2a9b50b59"}


def per_call_us(call: Callable[[], Any]) -> float:
    """Median per-call cost in µs, with ``number`` sized so each repeat runs ~0.2 s."""
    timer = timeit.Timer(call)
    number, elapsed = timer.autorange()  # smallest number of calls taking >= 0.2 s total
    number = max(1, int(number * SECONDS_PER_REPEAT / max(elapsed, 1e-9)))
    runs = timer.repeat(repeat=REPEATS, number=number)
    return statistics.median(runs) / number * 1e6


def cases() -> list[tuple[str, Callable[[], Any], bool]]:
    """(label, the call, whether the 50 µs target applies)."""
    reference = contract.validator("acedata/videos-request")
    compiled = contract.accepter("acedata/videos-request")
    contract.check("acedata/tasks-request", RETRIEVE)  # build the cached validators before timing
    return [
        (
            "check videos-request (generate, valid)",
            lambda: contract.check("acedata/videos-request", GENERATE),
            True,
        ),
        ("accepter(videos-request).is_valid", lambda: compiled.is_valid(GENERATE), True),
        (
            "validator(videos-request).is_valid (reference)",
            lambda: reference.is_valid(GENERATE),
            False,
        ),
        (
            "check videos-request (extend, valid)",
            lambda: contract.check("acedata/videos-request", EXTEND),
            True,
        ),
        (
            "check videos-request (invalid, message)",
            lambda: contract.check("acedata/videos-request", INVALID).message,
            False,
        ),
        (
            "check tasks-request (retrieve)",
            lambda: contract.check("acedata/tasks-request", RETRIEVE),
            True,
        ),
    ]


def machine() -> str:
    return (
        f"{platform.platform()} | {platform.python_implementation()} "
        f"{platform.python_version()} | {os.cpu_count()} CPUs"
    )


def main() -> int:
    assert not contract.check(
        "acedata/videos-request", INVALID
    ).ok  # the invalid case must stay invalid
    print(machine())
    print(f"target: <= {TARGET_US:.0f} µs per valid request (median of {REPEATS} repeats)\n")
    print(f"{'call':48} {'µs/call':>9}  verdict")
    missed = False
    for label, call, targeted in cases():
        cost = per_call_us(call)
        verdict = ("PASS" if cost <= TARGET_US else "MISS") if targeted else "-"
        missed |= verdict == "MISS"
        print(f"{label:48} {cost:9.1f}  {verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
