"""The fake as users run it: ``luma-mock serve`` in its own process, over real sockets."""

from __future__ import annotations

import json
import signal
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from contract_tests.contract import check
from mock_server.harness.receiver import CallbackReceiver
from tests import media_probe
from tests.support import AUTH, PROMPT, InThread, LiveServer, live_server


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server("--delay", "0.3", "--seed", "1") as running:
        yield running


def test_banner_names_the_url_and_an_example_curl(server: LiveServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    assert any("curl" in line and server.url in line for line in server.banner)


def test_synchronous_generate_over_a_socket(server: LiveServer) -> None:
    response = server.post("/luma/videos", {"prompt": PROMPT, "aspect_ratio": "1:1"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    result = response.json()
    assert check("acedata/videos-result", result).ok
    assert result["video_url"].startswith(server.url + "/luma/")
    video = server.session.get(result["video_url"], timeout=10)
    assert media_probe.video_size(video.content) == (1024, 1024)
    thumbnail = server.session.get(result["thumbnail_url"], timeout=10)
    assert media_probe.jpeg_size(thumbnail.content) == (1024, 1024)


def test_async_and_callback_flows_agree_with_the_task_records(server: LiveServer) -> None:
    with CallbackReceiver() as receiver:
        polled = server.post("/luma/videos", {"prompt": PROMPT, "async": True}).json()["task_id"]
        first = server.post("/luma/tasks", {"action": "retrieve", "id": polled}).json()
        assert first["response"]["state"] in ("pending", "processing")

        answer = server.post("/luma/videos", {"prompt": PROMPT, "callback_url": receiver.url})
        called = answer.json()["task_id"]
        body = receiver.wait_for(called)
        assert check("acedata/callback", body).ok and body["task_id"] == called

        # Fixed delays and due-order events: the earlier task has finished too.
        batch = server.post("/luma/tasks", {"action": "retrieve_batch", "ids": [polled, called]})
        records = {r["id"]: r for r in batch.json()["items"]}
        assert records[called]["response"] == body
        assert records[polled]["response"]["state"] == "completed"
        assert all(check("acedata/task-record", r).ok for r in records.values())


def test_many_synchronous_requests_are_held_at_once(server: LiveServer) -> None:
    with ThreadPoolExecutor(max_workers=64) as pool:
        answers = list(
            pool.map(
                lambda i: server.post("/luma/videos", {"prompt": f"{PROMPT} {i}"}, headers=AUTH),
                range(64),
            )
        )
    assert [a.status_code for a in answers] == [200] * 64
    assert len({a.json()["task_id"] for a in answers}) == 64


def test_bad_input_over_a_socket_gets_envelopes_and_the_server_keeps_serving(
    server: LiveServer,
) -> None:
    url = server.url
    garbage = requests.post(
        url + "/luma/videos",
        data=b"\x00\xff garbage",
        headers={**AUTH, "content-type": "application/json"},
        timeout=10,
    )
    assert garbage.status_code == 400 and garbage.json()["error"]["code"] == "bad_request"
    assert requests.get(url + "/luma/videos", timeout=10).status_code == 405
    assert requests.post(url + "/nowhere", timeout=10).json()["error"]["code"] == "not_found"
    too_big = requests.post(
        url + "/luma/videos",
        data=b"{" + b" " * 1_200_000 + b"}",
        headers={**AUTH, "content-type": "application/json"},
        timeout=10,
    )
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "request_too_large"
    # A request line that is not HTTP at all, then the connection is dropped.
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=5) as raw:
        raw.sendall(b"\x16\x03\x01 not http\r\n\r\n")
        raw.recv(1024)
    assert requests.get(url + "/health", timeout=10).json()["status"] == "ok"


def test_token_restriction_json_logs_and_sigterm_with_a_request_held() -> None:
    with live_server("--token", "good", "--log-format", "json", "--clock", "manual") as server:
        assert server.post("/luma/videos", {"prompt": PROMPT}).status_code == 401
        good = {"Authorization": "Bearer good"}
        held = InThread(server.post, "/luma/videos", {"prompt": PROMPT}, headers=good)
        # The manual clock never moves here: the request stays held until shutdown. Its
        # task must exist before the signal, or shutdown finds one task, not two.
        waited = server.session.post(
            server.url + "/__admin/journal/wait",
            json={"path": "/luma/videos", "answered": False, "with_task": True, "timeout": 10},
            timeout=15,
        )
        assert waited.status_code == 200, waited.text
        accepted = server.post("/luma/videos", {"prompt": PROMPT, "async": True}, headers=good)
        assert accepted.status_code == 200
        output = server.stop(signal.SIGTERM)
        assert server.process.returncode == 0
        answer = held.join()
        assert answer.status_code == 500 and "shutting down" in answer.json()["error"]["message"]
    assert "dropped 2 running task(s)" in output
    assert "good" not in output.replace('"good"', "")  # the token never reaches the log
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    requests_logged = [line for line in lines if line.get("path") == "/luma/videos"]
    assert {line["status"] for line in requests_logged} >= {401, 200}
    assert all("Bearer" not in json.dumps(line) for line in lines)


def test_settings_from_a_config_file_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "luma-mock.toml"
    config.write_text('[luma-mock]\ndelay = "instant"\ntokens = ["from-file"]\n')
    env = {"LUMA_MOCK_PUBLIC_URL": "https://media.example.test"}
    with live_server("--config", str(config), env=env) as server:
        headers = {"Authorization": "Bearer from-file"}
        result = server.post("/luma/videos", {"prompt": PROMPT}, headers=headers).json()
        assert result["video_url"].startswith("https://media.example.test/luma/")
        server.stop()


def test_a_bad_setting_is_a_clear_error_not_a_trace(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as failed, live_server("--delay", "sometimes"):
        pass
    assert "unknown delay 'sometimes'" in str(failed.value)
    assert "Traceback" not in str(failed.value)


def test_a_client_that_asks_to_close_is_told_so_and_can_pool(server: LiveServer) -> None:
    session = requests.Session()
    headers = {**AUTH, "Connection": "close"}
    for _ in range(20):  # a pooled connection the server closed must never be reused
        answer = session.post(server.url + "/health", headers=headers, timeout=10)
        assert answer.headers["Connection"] == "close"
    kept = session.get(server.url + "/health", timeout=10)
    assert "close" not in kept.headers.get("Connection", "")


def test_log_level_warning_drops_the_line_per_request_and_health_counts_evictions() -> None:
    with live_server("--delay", "instant", "--log-level", "warning", "--max-tasks", "2") as quiet:
        for _ in range(3):
            quiet.post("/luma/videos", {"prompt": PROMPT})
        health = quiet.session.get(quiet.url + "/health", timeout=10).json()
        assert (health["tasks"], health["evicted"]) == (2, 1)
        output = quiet.stop()
    assert "POST /luma/videos" not in output and "luma-mock stopped" in output


def test_a_manual_clock_fake_answers_before_it_calls_back() -> None:
    """Instant tasks on a manual clock end inside the call that makes them; the callback
    must still come after the answer, as from the real service. The receiver below will
    not answer until the test has the fake's answer, so the other order would hang."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    answered, called_back = threading.Event(), threading.Event()

    class AfterTheAnswer(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            ok = answered.wait(10)
            called_back.set()
            self.send_response(200 if ok else 500)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), AfterTheAnswer)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/cb"
    try:
        with live_server("--clock", "manual", "--delay", "instant") as server:
            answer = server.post("/luma/videos", {"prompt": PROMPT, "callback_url": url}, timeout=5)
            answered.set()
            assert answer.status_code == 200
            assert called_back.wait(10)
            delivery = server.session.post(
                f"{server.url}/__admin/tasks/{answer.json()['task_id']}/callback/wait",
                json={"timeout": 10},
                timeout=15,
            ).json()
            assert delivery["state"] == "delivered"
    finally:
        answered.set()
        receiver.shutdown()
        receiver.server_close()
