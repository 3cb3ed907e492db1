"""The provider suite: it passes on the fake (in process and over a socket), fails with
the right check on servers broken in one way each, keeps to its billable cap, and
reports failures with a working curl line."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import threading

import pytest
import requests
from hypothesis import settings

from contract_tests.acedata.records import luma_case
from contract_tests.provider import (
    FAKE_TIME_LIMIT,
    REAL_SERVICE,
    SILENCE_LIMIT,
    Target,
    Verification,
    verify,
)
from contract_tests.provider.report import curl_line, render
from tests.broken_servers import BROKEN, STALLING, Unanswering, stalling_target
from tests.support import TOKEN, live_server

FEW = {"profile": "ci", "max_examples": 4, "out": None}


def _run(target: Target, **options: object) -> Verification:
    try:
        return verify(target, **{**FEW, **options})  # type: ignore[arg-type]
    finally:
        target.close()


def _failed(result: Verification) -> set[str]:
    return {f.check for f in result.failures}


def test_the_fake_in_process_passes_every_check() -> None:
    target = Target.in_process()
    result = _run(target, max_billable=12)
    assert result.ok, render(result, target.transport.base_url, target.token)
    assert 0 < result.spent <= 12
    # every check of the catalogue had something to look at
    assert {"callback-shape", "media-size", "states-forward", "batch-count"} <= set(result.runs)


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_server_fails_the_right_check(name: str) -> None:
    check, build = BROKEN[name]
    target = build()
    result = _run(target, max_billable=8)
    report = render(result, target.transport.base_url, target.token)
    assert not result.ok
    assert check in _failed(result), report
    assert f"[{check}]" in report and " curl -sS " in report
    assert "suite-error" not in _failed(result), report


def test_a_callback_failure_shows_the_request_that_asked_for_it() -> None:
    check, build = BROKEN["callbacks of another shape"]
    target = build()
    result = _run(target, max_billable=8)
    failure = next(f for f in result.failures if f.check == check)
    assert "callback" in failure.title and failure.expected and failure.actual
    assert "the request that asked for it: curl" in render(result, "http://fake.test", TOKEN)


def test_a_failure_of_a_cheap_check_says_how_hypothesis_reproduces_it() -> None:
    result = _run(BROKEN["invalid request accepted"][1]())
    failure = next(f for f in result.failures if f.check == "invalid-rejected")
    assert "@reproduce_failure" in failure.reproduce  # the ci profile prints the blob
    assert failure.case is not None and not failure.case.valid


def test_the_billable_cap_is_never_exceeded_over_a_socket() -> None:
    """Counted by the fake itself: validated POSTs to /luma/videos in its journal."""
    with live_server("--clock", "manual", "--token", TOKEN, "--seed", "5") as server:
        result = _run(Target.url(server.url, TOKEN), max_billable=2)
        journal = requests.get(server.url + "/__admin/journal?path=/luma/videos", timeout=10)
        billable = [
            e for e in journal.json()["entries"]
            if e.get("kind") == "request" and e.get("method") == "POST"
            and (e.get("verdict") or {}).get("ok")
        ]  # fmt: skip
    assert result.ok, render(result, server.url, TOKEN)
    assert result.spent == len(billable) == 2


def test_the_fake_over_a_socket_passes_and_curl_reproduces_a_case() -> None:
    with live_server("--clock", "manual", "--token", TOKEN, "--seed", "6") as server:
        result = _run(Target.url(server.url, TOKEN), max_billable=10)
        assert result.ok, render(result, server.url, TOKEN)
        assert "callback-shape" in result.runs and "media-size" in result.runs
        if shutil.which("curl") is None or shutil.which("bash") is None:
            pytest.skip("curl and bash are needed to run the report's curl line")
        # the report's curl line, run as printed, gets the answer the suite got
        raw = b'{"prompt": "caf\xe9"}'
        bad_utf8 = luma_case("videos", raw=raw, label="body-not-utf8", valid=False)
        line = curl_line(bad_utf8, server.url, TOKEN)
        assert TOKEN not in line and "$LUMA_TOKEN" in line
        shown = subprocess.run(
            ["bash", "-c", line + " -o /dev/null -w '%{http_code}'"],
            capture_output=True, text=True, timeout=30, env={**os.environ, "LUMA_TOKEN": TOKEN},
        )  # fmt: skip
        assert shown.stdout == "400", shown
        # and without the token the same line is refused: the token really comes from $LUMA_TOKEN
        refused = subprocess.run(
            ["bash", "-c", line + " -o /dev/null -w '%{http_code}'"],
            capture_output=True, text=True, timeout=30, env={**os.environ, "LUMA_TOKEN": "nope"},
        )  # fmt: skip
        assert refused.stdout == "401", refused


def test_a_real_clock_fake_that_takes_any_token_passes() -> None:
    """`luma-mock serve` as started by hand: real clock, default delays, any token. Tasks
    are finished through the control API rather than waited for."""
    with live_server("--seed", "8") as server:
        result = _run(Target.url(server.url, "anything", any_token=True), max_billable=6)
    assert result.ok, render(result, server.url, "anything")
    assert 0 < result.spent <= 6


def test_the_recording_holds_every_exchange_with_the_token_redacted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    record = tmp_path / "exchanges.jsonl"
    target = Target.in_process("secret-token-123")
    result = _run(target, max_billable=3, record=str(record), stateful=False)
    text = record.read_text()
    # JSON Lines: one record per "\n" (str.splitlines would also split a prompt with U+2028)
    assert text.count("\n") == result.exchanges > 0
    assert "secret-token-123" not in text and "$LUMA_TOKEN" in text


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mock_server.cli", "verify", "--max-examples", "3", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_cli_exit_codes() -> None:
    passed = _cli("--max-billable", "4")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "billable requests: 4 of 4" in passed.stdout
    assert "all checks hold" in passed.stdout and "examples" in passed.stderr  # progress
    with live_server("--clock", "manual", "--token", "right", "--seed", "9") as server:
        failed = _cli("--target", server.url, "--token", "wrong", "--max-billable", "2")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "[valid-accepted]" in failed.stdout  # a valid request refused: 401
    assert "an invalid or wrong" not in failed.stdout  # a short token is not "redacted" in text
    unreachable = _cli("--target", "http://127.0.0.1:9")
    assert unreachable.returncode == 2 and "cannot reach" in unreachable.stderr
    assert _cli("--max-billable", "-1").returncode == 2


def test_progress_goes_to_the_stream_given() -> None:
    out = io.StringIO()
    target = Target.in_process()
    result = _run(target, max_billable=2, out=out, stateful=False)
    assert f"billable {result.spent}/2" in out.getvalue()


@pytest.mark.skipif(
    not os.environ.get("LUMA_MOCK_REAL_TOKEN"),
    reason="set LUMA_MOCK_REAL_TOKEN to verify the real service",
)
def test_the_real_service() -> None:  # pragma: no cover - opt-in, costs one video
    target = Target.url(REAL_SERVICE, os.environ["LUMA_MOCK_REAL_TOKEN"])
    result = _run(target, max_billable=1, max_examples=2, stateful=False)
    assert result.spent <= 1
    assert result.ok, render(result, REAL_SERVICE, target.token)


def test_without_a_control_api_nothing_billable_beyond_the_cap_is_sent() -> None:
    """A target without /__admin/ may be the real service: tasks are polled, and invalid
    bodies with a usable prompt (which a lenient service could bill) are not sent."""
    from mock_server.acedata.service import LumaService
    from mock_server.engine.config import Settings
    from mock_server.engine.delays import PRESETS
    from tests.broken_servers import TOKEN as BROKEN_TOKEN
    from tests.broken_servers import without_control_api

    luma = LumaService(Settings(delays=PRESETS["instant"], tokens=(BROKEN_TOKEN,), seed=2))
    result = _run(without_control_api(luma), max_billable=3)
    assert result.ok, render(result, "http://127.0.0.1:8000", BROKEN_TOKEN)
    posted = [e for e in luma.journal.entries(path="/luma/videos") if e.kind == "request"]
    accepted_bodies = [e for e in posted if e.verdict and e.verdict["ok"]]
    assert result.spent == len(accepted_bodies) <= 3
    refused = [e.body for e in posted if not (e.verdict or {}).get("ok", True)]
    prompts = [b.get("prompt") for b in refused if isinstance(b, dict)]
    assert not [p for p in prompts if isinstance(p, str) and p.strip()]  # none usable
    assert any("not sent" in note for note in result.notes)
    assert any("no control API" in note for note in result.notes)


def test_without_a_control_api_no_billable_request_is_sent_by_default() -> None:
    from mock_server.acedata.service import LumaService
    from mock_server.engine.config import Settings
    from mock_server.engine.delays import PRESETS
    from tests.broken_servers import without_control_api

    luma = LumaService(Settings(delays=PRESETS["instant"], seed=2))
    result = _run(without_control_api(luma), max_billable=None, stateful=True)
    assert result.cap == result.spent == 0
    assert not [e for e in luma.journal.entries(path="/luma/videos") if (e.verdict or {}).get("ok")]


# -- servers that once kept the suite waiting: every wait ends, with a verdict ---------------

HARD_BOUND = 120.0  # real seconds: far beyond what these runs take; only a hang reaches it


def _bounded(target: Target, **options: object) -> Verification:
    """`_run` on a thread, given at most `HARD_BOUND` seconds: a suite that waits on a
    misbehaving target for ever fails the test instead of hanging it."""
    box: dict[str, Verification] = {}
    worker = threading.Thread(target=lambda: box.update(result=_run(target, **options)),
                              daemon=True)  # fmt: skip
    worker.start()
    worker.join(HARD_BOUND)
    assert not worker.is_alive(), f"verify did not return within {HARD_BOUND:g} s"
    # verify registered its profiles anew on that thread; the active one is reloaded here,
    # so this thread's settings are the registered object again (Hypothesis warns otherwise)
    settings.load_profile(settings.get_current_profile_name())
    assert "result" in box, "verify raised (see the thread's traceback above)"
    return box["result"]


@pytest.mark.parametrize("name", list(STALLING))
def test_a_stalling_server_gets_a_failing_verdict_naming_the_check(name: str) -> None:
    check, rewrite_for, control = STALLING[name]
    rewrite = rewrite_for()
    target, luma = stalling_target(rewrite, control)
    started = luma.clock.now()
    result = _bounded(target, max_billable=8, stateful=False)
    report = render(result, target.transport.base_url, target.token)

    assert not result.ok and check in _failed(result), report
    assert "suite-error" not in _failed(result), report
    polls = sorted(rewrite.polls.values(), reverse=True)
    if check == "task-finishes":
        # One task is waited for: the clock moved 1, 2, 4 ... s up to the limit (twelve
        # moves, a poll after each), /complete, one poll more; the target is not waited
        # on again, so every later task is retrieved once.
        moves = len(f"{int(FAKE_TIME_LIMIT):b}")
        assert polls[0] == 1 + moves + 1 and set(polls[1:]) <= {1}, polls
        assert luma.clock.now() - started < 2 * FAKE_TIME_LIMIT
        assert "[task-finishes] task " in report and "the last poll: curl" in report
        assert any("not waited for" in note for note in result.notes)
    else:
        # The broken answer ended the wait: no task was polled past its first broken
        # record (the third retrieve at most: pending, pending, broken).
        assert polls and polls[0] <= 3, polls
        assert luma.clock.now() - started <= 3 * len(polls), "the clock moved on and on"


def test_a_target_that_stops_answering_gets_a_verdict_after_the_silence_limit() -> None:
    transport = Unanswering(seconds=40.0)  # each request "times out" after 40 s
    target = Target(transport, TOKEN, name="a target that never answers", callbacks=False)

    result = _bounded(target, max_billable=4)

    assert not result.ok and "status-allowed" in _failed(result)
    # 40 + 40 + 40 s unanswered reach the 90-s limit: nothing is sent after the third.
    assert transport.sent == -(-SILENCE_LIMIT // 40) == 3
    assert any("nothing more was sent" in note for note in result.notes)
