"""Recording a session into a cassette (`luma-mock proxy --cassette`), over real sockets.

The "real service" is `luma-mock serve` in its own process, with a secret token and a
random seed (so its ids are nobody's constants), on a manual clock the test moves: a task
ends, and its callbacks leave, exactly when the test says. Clients are plain requests.
"""

from __future__ import annotations

import gzip
import json
import random
import secrets
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from contract_tests.consumer.proxy import ValidatingProxy
from contract_tests.consumer.recorder import Recorder
from mock_server import cli
from mock_server.cassettes import decode_body, read_cassette
from mock_server.cassettes.check import check, check_report
from mock_server.harness.process import cli_command
from mock_server.harness.receiver import CallbackReceiver
from mock_server.harness.remote import RemoteFake
from tests.support import LiveServer, live_server
from tests.toy_support import toy_env

SECRET = "sk-" + secrets.token_urlsafe(24)  # the provider's token: never on disk
AUTH = {"Authorization": f"Bearer {SECRET}"}
DM = "/dream-machine/v1"


@pytest.fixture(scope="module")
def provider() -> Iterator[LiveServer]:
    seed = str(random.randrange(1 << 30))
    args = ("--token", SECRET, "--seed", seed, "--clock", "manual", "--delay", "10")
    with live_server(*args, "--log-level", "warning") as running:
        yield running


@pytest.fixture
def control(provider: LiveServer) -> Iterator[RemoteFake]:
    remote = RemoteFake(provider.url)
    remote.reset()
    yield remote
    remote.close()


@contextmanager
def recording(target: str, path: Path) -> Iterator[tuple[ValidatingProxy, Recorder]]:
    recorder = Recorder(path, target)
    proxy = ValidatingProxy(target, port=0, recorder=recorder).start()
    try:
        yield proxy, recorder
    finally:
        proxy.stop()
        recorder.close()


def events(path: Path, kind: str) -> list[dict[str, Any]]:
    return read_cassette(path).of_type(kind)


def assert_media_is_the_providers(path: Path, lines: list[dict[str, Any]]) -> None:
    """Each media line's file holds exactly what the provider serves at its URL."""
    assert lines
    for line in lines:
        kept = (path.with_name(path.name + ".media") / line["file"]).read_bytes()
        assert kept == requests.get(line["url"], timeout=10).content
        assert line["size"] == len(kept) > 0


def test_an_acedata_session_is_recorded_in_order_with_no_secret_on_disk(
    provider: LiveServer, control: RemoteFake, tmp_path: Path
) -> None:
    cassette = tmp_path / "session.jsonl"
    with CallbackReceiver() as receiver, recording(provider.url, cassette) as (proxy, recorder):
        made = requests.post(
            proxy.url + "/luma/videos",
            json={"prompt": "a lighthouse", "callback_url": receiver.url},
            headers=AUTH,
            timeout=10,
        )
        task = made.json()["task_id"]
        retrieve = {"action": "retrieve", "id": task}
        for _ in range(2):  # identical polls before the end: both kept, in order
            requests.post(proxy.url + "/luma/tasks", json=retrieve, headers=AUTH, timeout=10)
        control.advance(20)
        receiver.wait_for(task)
        seen = requests.post(proxy.url + "/luma/tasks", json=retrieve, headers=AUTH, timeout=10)
        assert recorder.close() == []  # the scan found no secret
    record = seen.json()
    assert record["request"]["callback_url"] == receiver.url  # the client sees its own URL

    text = cassette.read_text()
    assert SECRET not in text and record["user_id"] not in text
    assert check(cassette) == []
    header = read_cassette(cassette).header
    assert header is not None and header["redaction"]["tokens"] == 1
    exchanges = events(cassette, "exchange")
    assert [x["role"] for x in exchanges] == ["create", "poll", "poll", "poll"]
    assert [x["state"] for x in exchanges] == ["pending", "processing", "processing", "completed"]
    assert {x["task"] for x in exchanges} == {task}
    assert [x["at"] for x in exchanges] == sorted(x["at"] for x in exchanges)
    assert all(x["request"]["headers"]["authorization"] == "Bearer <token-1>" for x in exchanges)
    assert exchanges[0]["request"]["body"]["json"]["callback_url"] == receiver.url
    polled = [x["response"]["body"]["json"] for x in exchanges[1:]]
    assert {p["user_id"] for p in polled} == {polled[0]["user_id"]}  # one stable pseudonym
    assert polled[0]["user_id"].startswith("account-")

    (callback,) = events(cassette, "callback")
    assert (callback["task"], callback["attempt"], callback["state"]) == (task, 1, "completed")
    assert callback["forwarded_to"] == receiver.url and callback["response"] == {"status": 200}
    assert callback["request"]["body"]["json"]["video_url"] == record["response"]["video_url"]
    media = events(cassette, "media")
    assert {m["url"] for m in media} == {
        record["response"]["video_url"],
        record["response"]["thumbnail_url"],
    }  # once each, though three answers and a callback showed them
    assert_media_is_the_providers(cassette, media)


def test_a_dream_machine_session_is_recorded_with_its_assets(
    provider: LiveServer, control: RemoteFake, tmp_path: Path
) -> None:
    cassette = tmp_path / "dm.jsonl"
    with CallbackReceiver() as receiver, recording(provider.url, cassette) as (proxy, _):
        made = requests.post(
            f"{proxy.url}{DM}/generations/video",
            json={"prompt": "a comet", "model": "ray-2", "callback_url": receiver.url},
            headers=AUTH,
            timeout=10,
        )
        generation = made.json()["id"]
        control.advance(20)
        got = requests.get(f"{proxy.url}{DM}/generations/{generation}", headers=AUTH, timeout=10)
        receiver.wait_count(2)  # Luma calls back at each state: dreaming, then completed
    assert got.json()["state"] == "completed"
    assert all(r.body["request"]["callback_url"] == receiver.url for r in receiver.received)
    assert check(cassette) == []
    create, poll = events(cassette, "exchange")
    assert (create["role"], create["task"], create["dialect"]) == (
        "create",
        generation,
        "dream-machine",
    )
    assert (poll["role"], poll["state"]) == ("poll", "completed")
    callbacks = events(cassette, "callback")
    assert [c["attempt"] for c in callbacks] == [1, 1]  # two states, no retry
    media = events(cassette, "media")
    assert [m["url"] for m in media] == list(got.json()["assets"].values())
    assert_media_is_the_providers(cassette, media)
    assert SECRET not in cassette.read_text()


def test_a_receiver_that_fails_once_gets_the_retry_and_both_attempts_are_recorded(
    provider: LiveServer, control: RemoteFake, tmp_path: Path
) -> None:
    cassette = tmp_path / "retry.jsonl"
    with CallbackReceiver() as receiver, recording(provider.url, cassette) as (proxy, _):
        receiver.answer(500)
        made = requests.post(
            proxy.url + "/luma/videos",
            json={"prompt": "a tide", "callback_url": receiver.url},
            headers=AUTH,
            timeout=10,
        )
        task = made.json()["task_id"]
        control.advance(20)  # the task ends: the first attempt, answered 500
        control.advance(60)  # past the provider's backoff: the retry
        receiver.wait_for(task)
    attempts = control.delivery(task)["attempts"]  # the provider saw the client's statuses
    assert [a["status"] for a in attempts] == [500, 200]
    callbacks = events(cassette, "callback")
    assert [(c["attempt"], c["response"]) for c in callbacks] == [
        (1, {"status": 500}),
        (2, {"status": 200}),
    ]
    assert all(c["forwarded_to"] == receiver.url for c in callbacks)


def test_a_client_that_cannot_be_reached_is_a_502_to_the_provider(
    provider: LiveServer, control: RemoteFake, tmp_path: Path
) -> None:
    with CallbackReceiver() as gone:
        url = gone.url  # closed below: nothing listens there any more
    cassette = tmp_path / "gone.jsonl"
    with recording(provider.url, cassette) as (proxy, _):
        made = requests.post(
            proxy.url + "/luma/videos",
            json={"prompt": "a fog", "callback_url": url},
            headers=AUTH,
            timeout=10,
        )
        control.advance(20)
    attempts = control.delivery(made.json()["task_id"])["attempts"]
    assert attempts[0]["status"] == 502
    (callback, *_) = events(cassette, "callback")
    assert callback["response"] is None and "ConnectionRefusedError" in callback["error"]


# -- encodings and bytes -------------------------------------------------------------------

VIDEO = bytes(range(256)) * 3 + b"\x00\xff"  # not UTF-8: must survive exactly


@contextmanager
def gzip_provider(seen: list[str]) -> Iterator[str]:
    """Answers JSON gzipped (whatever was asked), and /video with raw bytes."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ.get("HTTP_ACCEPT_ENCODING", ""))
        if environ["PATH_INFO"] == "/video":
            start_response("200 OK", [("Content-Type", "video/mp4")])
            return [VIDEO]
        body = gzip.compress(json.dumps({"task_id": "t-1", "state": "processing"}).encode())
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
        )
        return [body]

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_gzip_answer_is_stored_decoded_and_binary_is_kept_exactly(tmp_path: Path) -> None:
    cassette, asked = tmp_path / "gz.jsonl", []
    with gzip_provider(asked) as target, recording(target, cassette) as (proxy, _):
        answer = requests.post(
            proxy.url + "/luma/tasks",
            json={"action": "retrieve", "id": "t-1"},
            headers={"Accept-Encoding": "br, zstd"},
            timeout=10,
        )
        video = requests.get(proxy.url + "/video", timeout=10)
    assert answer.json() == {"task_id": "t-1", "state": "processing"}
    assert asked == ["gzip, deflate", "gzip, deflate"]  # only what it can decode
    tasks, media = events(cassette, "exchange")
    assert tasks["response"]["body"] == {
        "json": {"task_id": "t-1", "state": "processing"},
        "decoded_from": "gzip",
    }
    assert tasks["response"]["headers"]["content-encoding"] == "gzip"
    assert tasks["request"]["headers"]["accept-encoding"] == "br, zstd"  # as the client sent
    assert video.content == VIDEO
    assert decode_body(media["response"]["body"]) == VIDEO
    assert check(cassette) == []


# -- the command: a crash, and the scan -----------------------------------------------------


@contextmanager
def proxy_process(
    *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    command = [*cli_command(), "proxy", "--port", "0", *args]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("luma-mock proxy on "), banner + process.stderr.read()
        yield process, banner.split()[3]
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=15)


def cassette_check(path: Path) -> subprocess.CompletedProcess[str]:
    command = [*cli_command(), "cassette", "check", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_a_killed_proxy_leaves_a_cassette_that_checks(
    provider: LiveServer, control: RemoteFake, tmp_path: Path
) -> None:
    cassette = tmp_path / "crash.jsonl"
    with proxy_process("--target", provider.url, "--cassette", str(cassette)) as (process, url):
        made = requests.post(
            url + "/luma/videos", json={"prompt": "a wave", "async": True}, headers=AUTH, timeout=10
        )
        retrieve = {"action": "retrieve", "id": made.json()["task_id"]}
        requests.post(url + "/luma/tasks", json=retrieve, headers=AUTH, timeout=10)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    assert len(events(cassette, "exchange")) == 2  # every answered exchange survived
    done = cassette_check(cassette)
    assert done.returncode == 0 and "valid" in done.stdout, done.stdout
    # A kill can also land mid-line; a torn last line is reported and left out.
    with cassette.open("a") as file:
        file.write('{"type": "exchange", "seq": 2, "at": 0.')
    done = cassette_check(cassette)
    assert done.returncode == 0 and "truncated last line 4" in done.stdout, done.stdout


def test_the_scan_finds_a_secret_the_rules_missed_raw_and_in_base64(
    provider: LiveServer, control: RemoteFake, tmp_path: Path
) -> None:
    cassette, rules = tmp_path / "leak.jsonl", tmp_path / "rules.toml"
    rules.write_text('defaults = false\n[tokens]\nheaders = ["authorization"]\n')
    args = ("--target", provider.url, "--cassette", str(cassette), "--redact", str(rules))
    with proxy_process(*args) as (process, url):
        # Before the redactor has seen the token: it goes to disk as it is.
        requests.get(url + "/luma/tasks", headers={"X-Debug": SECRET}, timeout=10)
        requests.post(
            url + "/luma/videos", json={"prompt": "a", "async": True}, headers=AUTH, timeout=10
        )
        blob = b"\x89PNG" + SECRET.encode() + b"\x00\x01"  # a binary body: base64 on disk
        binary = {**AUTH, "Content-Type": "application/octet-stream"}
        requests.post(url + "/luma/tasks", data=blob, headers=binary, timeout=10)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 3, out + err
    assert "line 2" in err and "(raw)" in err and "line 4" in err and "(base64)" in err, err
    assert "<token-1>" in err and "nothing was deleted" in out
    assert SECRET in cassette.read_text()  # reported, not deleted
    assert check_report(cassette).ok


def test_a_dialect_from_outside_is_recorded_by_its_own_rules(tmp_path: Path) -> None:
    cassette, env = tmp_path / "toy.jsonl", toy_env()
    args = ("--clock", "manual", "--delay", "10", "--token", SECRET, "--log-level", "warning")
    with (
        live_server(*args, env=env) as toy,
        CallbackReceiver() as receiver,
        proxy_process("--target", toy.url, "--cassette", str(cassette), env=env) as (process, url),
    ):
        made = requests.post(
            url + "/toy/v1/jobs",
            json={"prompt": "a square", "callback_url": receiver.url},
            headers=AUTH,
            timeout=10,
        )
        job = made.json()["id"]
        RemoteFake(toy.url).advance(20)
        receiver.wait_count(1)
        done = requests.get(f"{url}/toy/v1/jobs/{job}", headers=AUTH, timeout=10)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0 and done.json()["status"] == "done"
    create, poll = events(cassette, "exchange")
    assert (create["role"], create["task"], create["state"]) == ("create", job, "processing")
    assert (poll["role"], poll["task"], poll["state"]) == ("poll", job, "completed")
    (callback,) = events(cassette, "callback")
    assert (callback["task"], callback["forwarded_to"]) == (job, receiver.url)
    (media,) = events(cassette, "media")
    assert (media["url"], media["content_type"]) == (done.json()["output"], "image/png")
    assert check(cassette) == []


def test_the_proxys_own_answers_are_marked_and_name_no_task(
    provider: LiveServer, tmp_path: Path
) -> None:
    cassette = tmp_path / "own.jsonl"
    recorder = Recorder(cassette, provider.url)
    with ValidatingProxy(provider.url, max_billable=0, recorder=recorder) as proxy:
        capped = requests.post(
            proxy.url + "/luma/videos", json={"prompt": "a"}, headers=AUTH, timeout=10
        )
    assert recorder.close() == [] and capped.status_code == 429
    (line,) = events(cassette, "exchange")
    assert (line["own"], line["role"], line["task"]) == (True, "create", None)
    assert line["response"]["headers"]["x-luma-mock-proxy"] == "capped"


def test_a_bad_rules_file_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules, cassette = tmp_path / "rules.toml", tmp_path / "never.jsonl"
    rules.write_text("[tokens]\nheaders = 'authorization'\n")
    args = ["proxy", "--target", "http://127.0.0.1:9", "--cassette", str(cassette)]
    assert cli.main([*args, "--redact", str(rules)]) == 2
    assert "tokens.headers must be a list of strings" in capsys.readouterr().err
    assert not cassette.exists()


def test_a_failed_download_names_its_url_without_the_token(tmp_path: Path) -> None:
    # A connection error's message is the URL it tried, query string and all.
    cassette = tmp_path / "media.jsonl"
    recorder = Recorder(cassette, "http://127.0.0.1:1")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v.mp4?token={SECRET}"
    recorder.media.want("acedata", "t-1", url, recorder.redactor.url(url))
    assert recorder.close() == []
    (media,) = events(cassette, "media")
    assert media["file"] is None and "ConnectionError" in media["skipped"]
    assert "/v.mp4?token=<token-1>" in media["skipped"]
