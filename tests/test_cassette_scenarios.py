"""`luma-mock cassette scenarios`: a recorded session becomes scenario rules, and a fake
started with them plays the session again — its times on the manual clock, its failure,
its refusal with Retry-After — with fresh ids."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from mock_server.cassettes.check import check
from mock_server.cassettes.format import CassetteWriter, read_cassette
from mock_server.cassettes.scenarios import rules_from
from mock_server.engine.config import load
from mock_server.harness.process import ServedFake

RECORDED = {  # the provider's ids, which the fake must not hand out again
    "calm": "a1b2c3d4-0000-4000-8000-000000000001",
    "moderated": "a1b2c3d4-0000-4000-8000-000000000002",
    "dm": "a1b2c3d4-0000-4000-8000-000000000003",
}
MODERATION = 'Sorry! Our "AI" moderators\nfeel your prompt might be against our standards.'
AUTH = {"authorization": "Bearer <token-1>", "content-type": "application/json"}


def _exchange(
    at: float,
    path: str,
    body: Any,
    answer: Any,
    *,
    role: str,
    task: str | None = None,
    state: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    duration: float = 0.1,
    dialect: str = "acedata",
) -> dict[str, Any]:
    return {
        "type": "exchange",
        "at": at,
        "duration": duration,
        "dialect": dialect,
        "request": {
            "method": "POST",
            "path": path,
            "query": None,
            "headers": AUTH,
            "body": {"json": body},
        },
        "response": {
            "status": status,
            "headers": {"content-type": "application/json", **(headers or {})},
            "body": {"json": answer},
        },
        "task": task,
        "role": role,
        "state": state,
    }


def _poll(at: float, task: str, state: str, response: Any = None) -> dict[str, Any]:
    record = {"id": task, "response": response or {"task_id": task, "state": state}}
    return _exchange(
        at,
        "/luma/tasks",
        {"action": "retrieve", "id": task},
        record,
        role="poll",
        task=task,
        state=state,
    )


def _dm(at: float, task: str, state: str, **extra: Any) -> dict[str, Any]:
    generation = {
        "id": task,
        "state": {"pending": "queued", "processing": "dreaming"}.get(state, state),
        "failure_reason": None,
    }
    return _exchange(
        at,
        f"/dream-machine/v1/generations/{task}",
        None,
        generation,
        role="poll",
        task=task,
        state=state,
        dialect="dream-machine",
        **extra,
    )


def write_session(path: Path) -> None:
    """A session as the recorder writes one: an AceData task queued 2.5 s and made in
    27.5 s; one the provider's moderators failed after 4 s; a create refused with 429 and
    Retry-After 7; a Dream Machine generation queued 1 s and made in 9 s."""
    calm, moderated, dm = RECORDED["calm"], RECORDED["moderated"], RECORDED["dm"]
    failed = {
        "success": False,
        "error": {"code": "forbidden", "message": MODERATION},
        "task_id": moderated,
    }
    with CassetteWriter(path, target="http://provider.invalid") as cassette:
        for event in (
            _exchange(
                0.0,
                "/luma/videos",
                {"prompt": "a calm sea", "async": True},
                {"task_id": calm},
                role="create",
                task=calm,
                state="pending",
            ),
            _poll(1.0, calm, "pending"),
            _poll(2.5, calm, "processing"),  # (+0.1 answering): left the queue at 2.6
            _poll(20.0, calm, "processing"),
            _poll(30.0, calm, "completed"),  # ended at 30.1: 27.5 s of work
            _exchange(
                31.0,
                "/luma/videos",
                {"prompt": "a volcano", "async": True},
                {"task_id": moderated},
                role="create",
                task=moderated,
                state="pending",
            ),
            _poll(35.0, moderated, "failed", failed),
            _exchange(
                36.0,
                "/luma/videos",
                {"prompt": "again", "async": True},
                {"success": False, "error": {"code": "too_many_requests", "message": "slow down"}},
                role="create",
                status=429,
                headers={"retry-after": "7"},
            ),
            _exchange(
                40.0,
                "/dream-machine/v1/generations/video",
                {"prompt": "a tiger walking", "model": "ray-2"},
                {"id": dm, "state": "queued"},
                role="create",
                task=dm,
                state="pending",
                dialect="dream-machine",
                duration=0.0,
            ),
            _dm(40.9, dm, "processing"),  # left the queue at 41.0 (+0.1)
            _dm(49.9, dm, "completed"),  # ended at 50.0: 9 s of work
        ):
            cassette.append(event)


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The session converted by the CLI, and a fake serving its rules on a manual clock."""
    folder = tmp_path_factory.mktemp("scenarios")
    cassette, config = folder / "session.jsonl", folder / "session.toml"
    write_session(cassette)
    converted = subprocess.run(
        [
            sys.executable,
            "-m",
            "mock_server.cli",
            "cassette",
            "scenarios",
            str(cassette),
            "-o",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert converted.returncode == 0, converted.stderr
    with ServedFake.serve("--config", str(config), "--clock", "manual", "--seed", "4242") as fake:
        yield fake, config


def _advance(url: str, seconds: float) -> None:
    requests.post(f"{url}/__admin/clock/advance", json={"seconds": seconds}, timeout=10)


def _retrieve(url: str, task: str) -> dict[str, Any]:
    answer = requests.post(
        f"{url}/luma/tasks",
        json={"action": "retrieve", "id": task},
        headers=AUTH | {"authorization": "Bearer t"},
        timeout=10,
    )
    return answer.json()["response"]


def test_the_rules_load_in_serve_and_play_the_recorded_session(played: Any) -> None:
    fake, config = played
    url, auth = fake.url, {"authorization": "Bearer t"}
    assert len(load({}, config=config, environ={}).scenarios) == 4

    calm = requests.post(
        f"{url}/luma/videos", json={"prompt": "anything", "async": True}, headers=auth, timeout=10
    ).json()["task_id"]
    assert calm not in RECORDED.values()  # fresh ids
    assert _retrieve(url, calm)["state"] == "pending"
    _advance(url, 2.5)
    assert _retrieve(url, calm)["state"] == "pending"  # never a state early
    _advance(url, 0.1)
    assert _retrieve(url, calm)["state"] == "processing"
    _advance(url, 27.4)
    assert _retrieve(url, calm)["state"] == "processing"
    _advance(url, 0.1)
    assert _retrieve(url, calm)["state"] == "completed"

    moderated = requests.post(
        f"{url}/luma/videos", json={"prompt": "x", "async": True}, headers=auth, timeout=10
    ).json()["task_id"]
    _advance(url, 4.0)  # never seen working: its 4.1 s are all queue, as the client saw
    assert _retrieve(url, moderated)["state"] == "pending"
    _advance(url, 0.1)
    assert _retrieve(url, moderated)["error"] == {"code": "forbidden", "message": MODERATION}

    refused = requests.post(
        f"{url}/luma/videos", json={"prompt": "y", "async": True}, headers=auth, timeout=10
    )
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "7"
    assert refused.json()["error"]["message"] == "slow down"
    # Every rule matched once: the next create goes as the fake's own.
    assert (
        requests.post(
            f"{url}/luma/videos", json={"prompt": "z", "async": True}, headers=auth, timeout=10
        ).status_code
        == 200
    )

    dm = f"{url}/dream-machine/v1/generations"
    generation = requests.post(
        f"{dm}/video", json={"prompt": "a tiger", "model": "ray-2"}, headers=auth, timeout=10
    ).json()
    assert generation["id"] not in RECORDED.values()
    assert generation["state"] == "queued"
    _advance(url, 1.0)
    assert (
        requests.get(f"{dm}/{generation['id']}", headers=auth, timeout=10).json()["state"]
        == "dreaming"
    )
    _advance(url, 9.0)
    assert (
        requests.get(f"{dm}/{generation['id']}", headers=auth, timeout=10).json()["state"]
        == "completed"
    )


def test_a_create_on_a_recorded_generation_matches_any_id_and_refusals_keep_the_status(
    tmp_path: Path,
) -> None:
    path = tmp_path / "upscale.jsonl"
    old = RECORDED["dm"]
    with CassetteWriter(path) as cassette:
        cassette.append(
            _exchange(
                0.0,
                "/dream-machine/v1/generations/video",
                {"prompt": "p"},
                {"id": old, "state": "queued"},
                role="create",
                task=old,
                state="pending",
                dialect="dream-machine",
            )
        )
        cassette.append(
            _exchange(
                1.0,
                f"/dream-machine/v1/generations/{old}/upscale",
                {"resolution": "4k"},
                {"detail": "Insufficient credits"},
                role="create",
                status=402,
                dialect="dream-machine",
            )
        )
    rules = rules_from(read_cassette(path), known_codes={"used_up": 403})
    assert rules[0]["then"] == {"succeed": True, "queue": 0.0}  # its end never seen
    assert rules[1]["match"] == {
        "dialect": "dream-machine",
        "path": "/dream-machine/v1/generations/*/upscale",
    }
    assert rules[1]["then"] == {"reject": 402, "message": "Insufficient credits"}
    assert all(rule["times"] == 1 for rule in rules)


def _callback(at: float, task: str, state: str, body: Any, dialect: str) -> dict[str, Any]:
    return {
        "type": "callback",
        "at": at,
        "dialect": dialect,
        "task": task,
        "state": state,
        "attempt": 1,
        "request": {"method": "POST", "headers": {}, "body": {"json": body}},
        "forwarded_to": "http://client.invalid/hook",
        "response": {"status": 200},
        "error": None,
        "duration": 0.01,
    }


def test_a_task_known_from_its_callbacks_keeps_its_times_and_its_failure(
    tmp_path: Path,
) -> None:
    # A client that waits on callbacks polls nothing: the callbacks are all the
    # recording knows of the task's end.
    path = tmp_path / "callbacks.jsonl"
    calm, dm = RECORDED["calm"], RECORDED["dm"]
    with CassetteWriter(path) as cassette:
        cassette.append(
            _exchange(
                0.0,
                "/luma/videos",
                {"prompt": "a calm sea", "callback_url": "http://client.invalid/hook"},
                {"task_id": calm},
                role="create",
                task=calm,
                state="pending",
            )
        )
        cassette.append(
            _exchange(
                1.0,
                "/dream-machine/v1/generations/video",
                {"prompt": "p", "model": "ray-2", "callback_url": "http://client.invalid/h"},
                {"id": dm, "state": "queued"},
                role="create",
                task=dm,
                state="pending",
                dialect="dream-machine",
                duration=0.0,
            )
        )
        dreaming = {"id": dm, "state": "dreaming", "failure_reason": None}
        cassette.append(_callback(3.0, dm, "processing", dreaming, "dream-machine"))
        done = {"success": True, "task_id": calm, "state": "completed"}
        cassette.append(_callback(12.0, calm, "completed", done, "acedata"))
        failed = {"id": dm, "state": "failed", "failure_reason": "the prompt was refused"}
        cassette.append(_callback(9.0, dm, "failed", failed, "dream-machine"))
    first, second = rules_from(read_cassette(path), known_codes={})
    # Never seen past pending until its end: all of it queued, as a poll would tell it.
    assert first["then"] == {"delay": 0.0, "queue": 12.0}
    assert second["then"] == {
        "fail": "api_error",
        "message": "the prompt was refused",
        "after": 6.0,  # dreaming from 3.0 to 9.0
        "queue": 2.0,
    }
    assert check(path) == []


def test_not_a_cassette_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text('{"hello": 1}\n')
    done = subprocess.run(
        [sys.executable, "-m", "mock_server.cli", "cassette", "scenarios", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "not a cassette" in done.stderr
