"""The validating proxy, over real sockets: it forwards to a live fake and records each
exchange with the contract's verdicts, flags an upstream that answers the wrong shape,
and holds billable requests to a cap without forwarding them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from contract_tests.consumer.proxy import CAP_HEADER, ValidatingProxy
from contract_tests.contract import check
from tests.support import AUTH, PROMPT, TOKEN, LiveServer, live_server

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def fake() -> Iterator[LiveServer]:
    # Restricted to the test token, so a forwarded request shows its header came along.
    with live_server("--delay", "instant", "--token", TOKEN) as running:
        yield running


@pytest.fixture
def clean(fake: LiveServer) -> LiveServer:
    fake.session.post(fake.url + "/__admin/reset", timeout=10).raise_for_status()
    return fake


def journal(fake: LiveServer, path: str) -> list[dict[str, Any]]:
    answer = fake.session.get(fake.url + "/__admin/journal", params={"path": path}, timeout=10)
    return answer.json()["entries"]


def post(url: str, path: str, body: Any, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("headers", AUTH)
    return requests.post(url + path, json=body, timeout=10, **kwargs)


def test_forwards_to_the_fake_and_records_every_exchange(clean: LiveServer, tmp_path: Path) -> None:
    record = tmp_path / "traffic.jsonl"
    lines: list[str] = []
    with ValidatingProxy(clean.url, record=record, echo=lambda x: lines.append(x.line())) as proxy:
        made = post(proxy.url, "/luma/videos", {"prompt": PROMPT, "aspect_ratio": "1:1"})
        task_id = made.json()["task_id"]
        got = post(proxy.url, "/luma/tasks", {"action": "retrieve", "id": task_id})
        health = requests.get(proxy.url + "/health", timeout=10)

    assert made.status_code == 200 and check("acedata/videos-result", made.json()).ok
    assert got.status_code == 200 and got.json()["response"] == made.json()
    assert health.json()["status"] == "ok"
    # Forwarded as sent, token included (the fake accepts only the test token).
    forwarded = journal(clean, "/luma/videos")
    assert [e["body"] for e in forwarded] == [{"prompt": PROMPT, "aspect_ratio": "1:1"}]
    assert forwarded[0]["answer"] == made.json()

    assert lines == ["POST /luma/videos 200 ok", "POST /luma/tasks 200 ok", "GET /health 200 -"]
    exchanges = proxy.exchanges
    assert [x.ok for x in exchanges] == [True, True, True]
    assert exchanges[0].request_verdict.schema == "acedata/videos-request"
    assert exchanges[0].answer_verdict.schema == "acedata/videos-result"
    assert exchanges[1].answer_verdict.schema == "acedata/task-record"
    assert exchanges[0].billable and not exchanges[1].billable
    recorded = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(r["method"], r["path"], r["status"], r["ok"]) for r in recorded] == [
        ("POST", "/luma/videos", 200, True),
        ("POST", "/luma/tasks", 200, True),
        ("GET", "/health", 200, True),
    ]
    assert recorded[0]["answer"] == made.json() and recorded[1]["request"]["id"] == task_id


def test_a_request_that_breaks_the_contract_is_flagged(clean: LiveServer) -> None:
    with ValidatingProxy(clean.url) as proxy:
        refused = post(proxy.url, "/luma/videos", {"prompt": PROMPT, "aspect_ratio": "5:4"})

    assert refused.status_code == 400  # the fake's own answer, passed on
    (exchange,) = proxy.exchanges
    assert not exchange.request_verdict.ok and exchange.answer_verdict.ok
    assert exchange.line().startswith(
        "POST /luma/videos 400 DRIFT request drift (acedata/videos-request)"
    )
    assert '"5:4" is not one of' in exchange.line()


def test_unknown_fields_are_noted_but_not_drift(clean: LiveServer) -> None:
    with ValidatingProxy(clean.url) as proxy:
        post(proxy.url, "/luma/videos", {"prompt": PROMPT, "model": "luma", "async": True})

    (exchange,) = proxy.exchanges
    assert exchange.ok
    assert exchange.line() == "POST /luma/videos 200 ok (unknown fields: model)"


# -- an upstream that breaks the contract ------------------------------------------------


def wrong_shapes(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Answers /luma/videos with a result whose width is a string and whose thumbnail
    is missing, and /luma/tasks with a documented code at the wrong status."""
    if environ["PATH_INFO"] == "/luma/videos":
        status, body = (
            "200 OK",
            {
                "success": True,
                "task_id": "t-1",
                "video_id": "v-1",
                "prompt": PROMPT,
                "video_url": "https://cdn.example.test/luma/t-1.mp4",
                "video_width": "1360",
                "video_height": 752,
                "state": "completed",
            },
        )
    else:
        status, body = (
            "500 INTERNAL SERVER ERROR",
            {
                "success": False,
                "error": {"code": "too_many_requests", "message": "slow down"},
                "trace_id": "x",
            },
        )
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json")])
    return [payload]


@contextmanager
def upstream(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_an_answer_of_the_wrong_shape_is_flagged() -> None:
    with upstream(wrong_shapes) as target, ValidatingProxy(target) as proxy:
        result = post(proxy.url, "/luma/videos", {"prompt": PROMPT})
        error = post(proxy.url, "/luma/tasks", {"action": "retrieve", "id": "t-1"})

    assert result.json()["video_width"] == "1360"  # passed on untouched
    assert error.status_code == 500
    videos, tasks = proxy.exchanges
    assert videos.request_verdict.ok and not videos.answer_verdict.ok
    assert videos.answer_verdict.schema == "acedata/videos-result"
    line = videos.line()
    assert line.startswith("POST /luma/videos 200 DRIFT answer drift (acedata/videos-result)")
    assert "video_width: must be integer, got string" in line
    assert tasks.answer_verdict.problems == [
        "too_many_requests is documented with status 429, not 500"
    ]
    assert proxy.drifted == [videos, tasks]


def test_an_unreachable_target_is_answered_502_in_the_envelope() -> None:
    with upstream(wrong_shapes) as target:
        pass  # the port is free again: nothing listens there
    with ValidatingProxy(target) as proxy:
        answer = post(proxy.url, "/luma/videos", {"prompt": PROMPT})

    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "api_error"
    assert "did not answer" in answer.json()["error"]["message"]
    (exchange,) = proxy.exchanges
    assert exchange.ok and "the target did not answer: ConnectionError" in exchange.line()


# -- the cap on billable requests ---------------------------------------------------------


def test_over_the_cap_the_proxy_answers_429_and_forwards_nothing(clean: LiveServer) -> None:
    with ValidatingProxy(clean.url, max_billable=1) as proxy:
        first = post(proxy.url, "/luma/videos", {"prompt": PROMPT, "async": True})
        second = post(proxy.url, "/luma/videos", {"prompt": PROMPT, "async": True})
        extend = post(
            proxy.url,
            "/luma/videos",
            {"action": "extend", "prompt": PROMPT, "video_url": "https://x.example.test/v.mp4"},
        )
        retrieve = post(
            proxy.url, "/luma/tasks", {"action": "retrieve", "id": first.json()["task_id"]}
        )

    assert first.status_code == 200 and retrieve.status_code == 200  # retrieves cost nothing
    for capped in (second, extend):
        assert capped.status_code == 429 and capped.headers[CAP_HEADER] == "capped"
        assert check("acedata/error", capped.json()).ok
        assert capped.json()["error"]["code"] == "too_many_requests"
        assert "cap of 1 billable request(s) is reached" in capped.json()["error"]["message"]
    assert len(journal(clean, "/luma/videos")) == 1  # only the first reached the fake
    assert proxy.billable_forwarded == 1
    assert [x.forwarded for x in proxy.exchanges] == [True, False, False, True]
    assert proxy.exchanges[1].line() == (
        "POST /luma/videos 429 capped: billable cap of 1 reached; not forwarded"
    )


def test_a_cap_of_zero_forwards_no_generation(clean: LiveServer) -> None:
    with ValidatingProxy(clean.url, max_billable=0) as proxy:
        assert post(proxy.url, "/luma/videos", {"prompt": PROMPT}).status_code == 429
    assert journal(clean, "/luma/videos") == []


# -- luma-mock proxy --------------------------------------------------------------------------


@contextmanager
def proxy_process(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_server.cli", "proxy", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    banner = process.stdout.readline()
    try:
        assert banner.startswith("luma-mock proxy on http://127.0.0.1:"), banner
        yield process, banner.split()[3]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def stop(process: subprocess.Popen[str]) -> tuple[int, list[str]]:
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=15)
    return process.returncode, out.splitlines()


def test_luma_mock_proxy_prints_each_exchange_and_exits_0(
    clean: LiveServer, tmp_path: Path
) -> None:
    record = tmp_path / "traffic.jsonl"
    args = ("--target", clean.url, "--max-billable", "1", "--record", str(record))
    with proxy_process(*args) as (process, url):
        assert post(url, "/luma/videos", {"prompt": PROMPT, "async": True}).status_code == 200
        assert post(url, "/luma/videos", {"prompt": PROMPT, "async": True}).status_code == 429
        code, lines = stop(process)

    assert code == 0
    assert lines[:2] == [
        "POST /luma/videos 200 ok",
        "POST /luma/videos 429 capped: billable cap of 1 reached; not forwarded",
    ]
    assert lines[-1] == ("luma-mock proxy stopped: 2 exchange(s), 0 with contract drift, 1 capped")
    assert len(record.read_text().splitlines()) == 2


def test_luma_mock_proxy_exits_1_after_contract_drift() -> None:
    with upstream(wrong_shapes) as target, proxy_process("--target", target) as (process, url):
        post(url, "/luma/videos", {"prompt": PROMPT})
        code, lines = stop(process)

    assert code == 1
    assert lines[0].startswith("POST /luma/videos 200 DRIFT answer drift (acedata/videos-result)")
    assert "1 with contract drift" in lines[-1]


def test_luma_mock_proxy_refuses_a_target_that_is_not_a_url() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mock_server.cli", "proxy", "--target", "api.acedata.cloud"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert done.returncode == 2
    assert "the target must be an http(s) URL" in done.stderr


def test_luma_mock_proxy_needs_a_target_or_a_dialect_whose_service_it_is() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mock_server.cli", "proxy", "--port", "0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert done.returncode == 2
    assert "--target is required without --dialect" in done.stderr
