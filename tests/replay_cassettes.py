"""Hand-made cassettes for the replay tests: JSON lines built as the format says
(docs/record-and-replay.md), so replay is tested before and apart from the recorder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

T1 = "11111111-1111-4111-8111-111111111111"  # created with a callback, polled
T2 = "22222222-2222-4222-8222-222222222222"  # a synchronous create
T3 = "33333333-3333-4333-8333-333333333333"  # created on a retry after a 429
CDN = f"https://cdn.example.test/videos/{T1}.mp4"
VIDEO = bytes(range(256)) * 40  # not UTF-8: kept byte for byte
JSON = {"content-type": "application/json"}


def body(value: Any) -> dict[str, Any] | None:
    return None if value is None else {"json": value}


class Tape:
    """Events appended in order, each given its seq; ``write`` makes the file and the
    media folder beside it."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.media: dict[str, bytes] = {}

    def _add(self, event: dict[str, Any]) -> dict[str, Any]:
        event["seq"] = len(self.events)
        self.events.append(event)
        return event

    def exchange(
        self,
        at: float,
        method: str,
        path: str,
        request: Any,
        status: int,
        answer: Any,
        *,
        duration: float = 0.2,
        dialect: str = "acedata",
        task: str | None = None,
        role: str = "other",
        state: str | None = None,
        query: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return self._add(
            {
                "type": "exchange",
                "at": at,
                "duration": duration,
                "dialect": dialect,
                "request": {
                    "method": method,
                    "path": path,
                    "query": query,
                    "headers": {"authorization": "Bearer <token-1>", **JSON},
                    "body": body(request),
                },
                "response": {"status": status, "headers": {**JSON, **(headers or {})},
                             "body": body(answer)},
                "task": task,
                "role": role,
                "state": state,
                **extra,
            }
        )  # fmt: skip

    def callback(
        self, at: float, task: str, attempt: int, sent: Any, status: int, **extra: Any
    ) -> None:
        self._add(
            {
                "type": "callback",
                "at": at,
                "dialect": "acedata",
                "task": task,
                **extra,
                "attempt": attempt,
                "request": {"method": "POST", "headers": JSON, "body": body(sent)},
                "forwarded_to": "http://127.0.0.1:1/cb",
                "response": {"status": status},
                "error": None,
                "duration": 0.01,
            }
        )

    def media_file(self, at: float, task: str, url: str, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        name = f"{digest}.mp4"
        self.media[name] = data
        self._add(
            {"type": "media", "at": at, "dialect": "acedata", "task": task, "url": url,
             "file": name, "sha256": digest, "size": len(data), "content_type": "video/mp4"}
        )  # fmt: skip
        return name

    def write(self, path: Path, *, torn: str = "") -> Path:
        header = {
            "type": "cassette",
            "version": 1,
            "tool": "luma-mock test",
            "recorded_at": "2026-12-01T00:00:00Z",
            "target": "https://api.acedata.cloud",
            "redaction": {"tokens": 1, "accounts": 0, "rules": "default"},
        }
        lines = [json.dumps(e) for e in (header, *self.events)]
        path.write_text("\n".join(lines) + "\n" + torn, encoding="utf-8")
        folder = path.parent / f"{path.name}.media"
        folder.mkdir(exist_ok=True)
        for name, data in self.media.items():
            (folder / name).write_bytes(data)
        return path


def poll(task: str) -> dict[str, str]:
    return {"id": task, "action": "retrieve"}


def session() -> Tape:
    """One recorded session: an AceData task created with a callback, polled while it
    was pending, processing and completed (its callback failed once, then got through;
    its video downloaded), a refusal of the proxy's own, a synchronous create held a
    minute, and Dream Machine's credits asked twice with different answers."""
    tape = Tape()
    create = {"prompt": "a cat", "callback_url": "http://127.0.0.1:1/cb", "timeout": 300}
    tape.exchange(1.0, "POST", "/luma/videos", create, 200, {"task_id": T1, "state": "pending"},
                  task=T1, role="create", state="pending", headers={"x-request-id": "r-1"},
                  )  # fmt: skip
    # The create was answered at 1.2: polls at offsets 2, 10 and 30 from there.
    for at, state in ((3.2, "pending"), (11.2, "processing")):
        record = {"id": T1, "response": {"task_id": T1, "state": state}}
        tape.exchange(at, "POST", "/luma/tasks", poll(T1), 200, record, task=T1, role="poll",
                      state=state)  # fmt: skip
    done = {"task_id": T1, "state": "completed", "video_url": CDN}
    tape.exchange(31.2, "POST", "/luma/tasks", poll(T1), 200, {"id": T1, "response": done},
                  task=T1, role="poll", state="completed")  # fmt: skip
    tape.callback(31.0, T1, 1, done, 500)  # at offset 29.8; the provider retried it
    tape.callback(33.0, T1, 2, done, 200)
    tape.media_file(31.5, T1, CDN, VIDEO)
    tape.exchange(35.0, "POST", "/luma/videos", {"prompt": "a dog"}, 403,
                  {"success": False, "error": {"code": "used_up", "message": "cap"}}, own=True,
                  )  # fmt: skip
    slow = {"task_id": T2, "state": "completed", "video_url": "https://cdn.example.test/v2.mp4"}
    tape.exchange(40.0, "POST", "/luma/videos", {"prompt": "slow"}, 200, slow, duration=60.0,
                  task=T2, role="create", state="completed")  # fmt: skip
    for at, credits in ((101.0, 100), (102.0, 90)):
        # Sent gzipped by the provider, kept decoded: replayed plain, never re-compressed.
        asked = tape.exchange(at, "GET", "/dream-machine/v1/credits", None, 200,
                              {"credit_balance": credits}, dialect="dream-machine",
                              headers={"content-encoding": "gzip"})  # fmt: skip
        asked["response"]["body"]["decoded_from"] = "gzip"
    # A create refused for the rate, then retried and accepted.
    busy = {"success": False, "error": {"code": "too_many_requests", "message": "slow"}}
    tape.exchange(110.0, "POST", "/luma/videos", {"prompt": "busy"}, 429, busy, role="create",
                  headers={"retry-after": "3"})  # fmt: skip
    accepted = {"task_id": T3, "state": "pending"}
    tape.exchange(113.0, "POST", "/luma/videos", {"prompt": "busy"}, 200, accepted, task=T3,
                  role="create", state="pending")  # fmt: skip
    return tape
