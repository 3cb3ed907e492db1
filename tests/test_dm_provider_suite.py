"""``luma-mock verify --dialect dream-machine``: it passes on the fake (in process and
over a socket), fails with the right check on Dream Machine servers broken in one way
each, keeps to its billable cap (every create counts), and sends nothing billable to a
target without the control API unless told how many."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import requests

from contract_tests.checks import REGISTRY, checks_of
from contract_tests.provider import Target, Verification, verify
from contract_tests.provider.report import render
from tests.broken_dm_servers import BROKEN_DM, dm_fake, with_derived
from tests.broken_servers import TOKEN, hide_control_api
from tests.support import live_server

FEW = {"profile": "ci", "max_examples": 6, "out": None, "dialect": "dream-machine"}


def _run(target: Target, **options: object) -> Verification:
    try:
        return verify(target, **{**FEW, **options})  # type: ignore[arg-type]
    finally:
        target.close()


def _failed(result: Verification) -> set[str]:
    return {f.check for f in result.failures}


def test_the_fake_in_process_passes_every_dm_check() -> None:
    target = Target.in_process()
    result = _run(target, max_billable=16)
    assert result.ok, render(result, target.transport.base_url, target.token)
    assert 0 < result.spent <= 16
    # every Dream Machine check had something to look at, and no AceData check ran
    every = set(checks_of("dream-machine")) - {"task-finishes"}  # only on a wait overrun
    assert every <= set(result.runs), every - set(result.runs)
    assert all(REGISTRY[n].dialects in (None, {"dream-machine"}) for n in result.runs)


@pytest.mark.parametrize("name", list(BROKEN_DM))
def test_a_broken_dm_server_fails_the_right_check(name: str) -> None:
    check, build = BROKEN_DM[name]
    target = build()
    result = _run(target, max_billable=12)
    report = render(result, target.transport.base_url, target.token)
    assert not result.ok
    assert check in _failed(result), report
    assert f"[{check}]" in report and "curl -sS" in report
    assert "suite-error" not in _failed(result), report


def test_the_billable_cap_counts_every_create_over_a_socket() -> None:
    """Counted by the fake itself: answered creates in its journal."""
    with live_server("--clock", "manual", "--token", TOKEN, "--seed", "5") as server:
        result = _run(Target.url(server.url, TOKEN), max_billable=3)
        journal = requests.get(server.url + "/__admin/journal", timeout=10).json()["entries"]
    creates = [
        e for e in journal
        if e.get("kind") == "request" and e.get("method") == "POST"
        and "/dream-machine/v1/generations/" in e.get("path", "")
        and 200 <= e.get("status", 0) < 300  # a create's 201, an upscale's or audio's 200
    ]  # fmt: skip
    assert result.ok, render(result, server.url, TOKEN)
    assert result.spent == len(creates) == 3


def test_without_a_control_api_no_create_is_sent_by_default() -> None:
    luma = dm_fake()
    target = Target.wsgi(hide_control_api(_app(luma)), TOKEN, name="no control API")
    target.on_close = luma.close
    result = _run(target)
    assert result.ok, render(result, "", TOKEN)
    assert result.spent == result.cap == 0
    assert len(luma.siblings[0].store) == 0  # not one generation was made
    skipped = [n for n in result.notes if "invalid examples to" in n and "not sent" in n]
    assert skipped and "POST /generations/video" in skipped[0], result.notes


def _app(luma: object) -> object:
    from mock_server.web.app import create_app

    return create_app(luma)  # type: ignore[arg-type]


def test_cli_verify_dialect_dream_machine_exit_codes() -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "mock_server.cli", "verify", "--dialect", "dream-machine",
         "--max-examples", "3", "--max-billable", "4"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "dm-list-page" in ok.stdout and "billable requests: 4 of 4" in ok.stdout
    unreachable = subprocess.run(
        [sys.executable, "-m", "mock_server.cli", "verify", "--dialect", "dream-machine",
         "--target", "http://127.0.0.1:9"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert unreachable.returncode == 2, unreachable.stderr


def test_upscale_audio_reframe_and_modify_are_verified_where_the_target_serves_them() -> None:
    """The rules are guarded: on a target that answers them in this dialect's shape
    (here a stand-in in front of the fake) they run and are checked."""
    target, app = with_derived()
    result = _run(target, max_billable=30, max_examples=8)
    assert result.ok, render(result, target.transport.base_url, target.token)
    assert app.served > 0 and app.more > 0
    assert not any("not checked" in note for note in result.notes), result.notes


def test_where_the_target_does_not_serve_them_the_report_says_so() -> None:
    """A target that answers the upscale, audio, reframe and modify paths outside this
    dialect's shape (an older fake's fallback) gets a note, and nothing but the probes
    is sent there."""
    luma = dm_fake()
    app = _app(luma)

    def older(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ["PATH_INFO"]
        if path.endswith(("/upscale", "/audio", "/reframe", "/modify")):
            older.asked += 1  # type: ignore[attr-defined]
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"success": false, "error": {"code": "not_found", "message": "no"}}']
        return app(environ, start_response)

    older.asked = 0  # type: ignore[attr-defined]
    target = Target.wsgi(older, TOKEN, name="an older fake")
    target.on_close = luma.close
    result = _run(target, max_billable=8)
    assert result.ok, render(result, "", TOKEN)
    assert any("upscale and audio not checked" in note for note in result.notes)
    assert any("/generations/video/modify" in note for note in result.notes)
    assert older.asked == 4  # type: ignore[attr-defined] # upscale (the first), and the 3 creates


def test_an_upscale_the_generation_cannot_take_is_a_conflict_the_suite_accepts() -> None:
    """An image cannot be upscaled: the fake answers 409 {detail} (the SDKs' ConflictError),
    which breaks no check; a completed video is upscaled (200)."""
    from contract_tests.dream_machine.flows import create, derive
    from contract_tests.provider.outcome import Budget
    from contract_tests.provider.runner import Provider

    with live_server("--clock", "manual", "--token", TOKEN) as server:
        provider = Provider(Target.url(server.url, TOKEN), Budget(10), dialect="dream-machine")
        provider.probe_control()
        made = {}
        for kind, model in (("image", "photon-1"), ("video", "ray-2")):
            case = create(provider, kind, {"model": model, "prompt": "a lighthouse"}, kind)
            assert case is not None and case.task_id is not None
            assert provider.settle(case.task_id) is not None
            made[kind] = case.task_id
        body = {"generation_type": "upscale_video"}
        refused = derive(provider, "upscale", made["image"], body)
        upscaled = derive(provider, "upscale", made["video"], body)
        provider.cleanup()
    assert (refused.status, upscaled.status) == (409, 200), refused.text
    assert provider.current == [], [str(f) for f in provider.current]
    assert provider.ctx.runs["status-allowed"] >= 4
