"""Servers that break the contract in exactly one way each: the real fake, in process,
behind a WSGI middleware that corrupts one thing (or, for callbacks, with its callback
dispatcher wrapped). The provider suite must fail on each, naming the right check.

`BROKEN` maps a name to (the check that must fail, how to build the target).
`STALLING` holds the servers that once kept the suite waiting for ever — records that
break the schema while a task is polled, a task that never ends on a target that claims
the control API — each with the check that must end the wait and its rewrite, which
counts the polls of each task.
"""

from __future__ import annotations

import io
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from contract_tests.checks import Answer
from contract_tests.provider import Target
from mock_server.acedata.media import media_file
from mock_server.acedata.service import LumaService
from mock_server.engine.clock import ManualClock
from mock_server.engine.config import Settings
from mock_server.engine.delays import DelayModel, Fixed
from mock_server.web.app import create_app

TOKEN = "broken-token"


@dataclass
class Seen:
    """One exchange as the middleware sees it; a rewrite may change status and body."""

    method: str
    path: str
    request: Any
    status: int
    body: Any  # the JSON answer, or bytes when it is not JSON
    content_type: str


Rewrite = Callable[[Seen], None]


class Corrupt:
    """WSGI middleware: run the app, let ``rewrite`` change the answer, send that."""

    def __init__(self, app: Callable[..., Iterable[bytes]], rewrite: Rewrite) -> None:
        self.app, self.rewrite = app, rewrite

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        caught: dict[str, Any] = {}

        def catch(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            caught["status"], caught["headers"] = status, headers
            return lambda data: None

        content = b"".join(self.app(environ, catch))
        headers = dict(caught["headers"])
        kind = headers.get("Content-Type", "")
        seen = Seen(
            environ["REQUEST_METHOD"],
            environ["PATH_INFO"],
            _json(raw),
            int(caught["status"].split()[0]),
            _json(content) if "json" in kind else content,
            kind,
        )
        self.rewrite(seen)
        if seen.content_type != kind:  # a rewrite may relabel the answer
            headers["Content-Type"] = seen.content_type
        out = seen.body if isinstance(seen.body, bytes) else json.dumps(seen.body).encode()
        headers["Content-Length"] = str(len(out))
        start_response(f"{seen.status} X", list(headers.items()))
        return [out]


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data


def fake() -> LumaService:
    """The fake as `Target.in_process` makes it: manual clock, 2 s + 60 s, one token."""
    settings = Settings(
        clock="manual", delays=DelayModel(Fixed(2.0), Fixed(60.0), Fixed(60.0)),
        tokens=(TOKEN,), seed=1,
    )  # fmt: skip
    return LumaService(settings, clock=ManualClock(1_700_000_000.0))


def corrupted(rewrite: Rewrite) -> Target:
    luma = fake()
    target = Target.wsgi(Corrupt(create_app(luma), rewrite), TOKEN, name="a broken fake")
    target.on_close = luma.close
    return target


def _is(seen: Seen, path: str, status: int = 200) -> bool:
    return seen.path == path and seen.status == status and isinstance(seen.body, dict)


def _records(seen: Seen) -> list[dict[str, Any]]:
    """The task records of a /luma/tasks answer."""
    if not _is(seen, "/luma/tasks"):
        return []
    return seen.body.get("items", []) if "items" in seen.body else [seen.body]


def _results(seen: Seen) -> list[dict[str, Any]]:
    """Every finished video in an answer: the sync result, or records' responses."""
    if _is(seen, "/luma/videos") and seen.body.get("success") is True:
        return [seen.body]
    found = [r.get("response") for r in _records(seen)]
    return [r for r in found if isinstance(r, dict) and r.get("success") is True]


# -- one fault each ------------------------------------------------------------------


def width_as_string(seen: Seen) -> None:
    for result in _results(seen):
        result["video_width"] = str(result["video_width"])


def accepted_without_task_id(seen: Seen) -> None:
    if _is(seen, "/luma/videos") and set(seen.body) == {"task_id"}:
        seen.body = {"id": seen.body["task_id"]}


def server_error_on_sync(seen: Seen) -> None:
    if _is(seen, "/luma/videos") and seen.body.get("success") is True:
        seen.status = 500
        seen.body = {"success": False, "error": {"code": "api_error", "message": "boom"},
                     "trace_id": "t"}  # fmt: skip


def invalid_accepted(seen: Seen) -> None:
    if _is(seen, "/luma/videos", 400):
        seen.status, seen.body = 200, {"task_id": "accepted-anyway"}


def wrong_code_for_status(seen: Seen) -> None:
    if _is(seen, "/luma/tasks", 404):
        seen.body["error"]["code"] = "bad_request"  # documented with x-status 400


def batch_count_off(seen: Seen) -> None:
    if _is(seen, "/luma/tasks") and "items" in seen.body:
        seen.body["count"] = len(seen.body["items"]) + 1


def media_of_another_size(seen: Seen) -> None:
    if seen.path.startswith("/luma/") and seen.path.endswith(".mp4") and seen.status == 200:
        seen.body = media_file("1:1", "mp4").read_bytes()  # 1024x1024, whatever was asked


class StatesBackwards:
    """Once a task has been shown completed, show it processing again."""

    def __init__(self) -> None:
        self.completed: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, seen: Seen) -> None:
        with self.lock:
            for record in _records(seen):
                state = (record.get("response") or {}).get("state")
                if record["id"] in self.completed:
                    record["response"] = {"task_id": record["id"], "state": "processing"}
                elif state == "completed":
                    self.completed.add(record["id"])


class TimestampsMove:
    """Every retrieve shows the task created a little later than the last one did."""

    def __init__(self) -> None:
        self.shown = 0

    def __call__(self, seen: Seen) -> None:
        for record in _records(seen):
            self.shown += 1
            record["created_at"] = record["created_at"] - self.shown / 1000


def no_auth_needed(app: Any) -> Any:
    """Middleware that lends a missing Authorization header the real token."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        environ.setdefault("HTTP_AUTHORIZATION", f"Bearer {TOKEN}")
        return app(environ, start_response)

    return wrapped


def without_auth() -> Target:
    luma = fake()
    target = Target.wsgi(no_auth_needed(create_app(luma)), TOKEN, name="a fake without auth")
    target.on_close = luma.close
    return target


def callbacks_of_another_shape() -> Target:
    """The fake, but each callback body is wrapped as ``{"data": ...}``."""
    luma = fake()
    send = luma.callbacks.send
    luma.callbacks.send = lambda task_id, url, body: send(task_id, url, {"data": body})  # type: ignore[method-assign]
    target = Target.wsgi(create_app(luma), TOKEN, name="a fake with odd callbacks")
    target.on_close = luma.close
    return target


BROKEN: dict[str, tuple[str, Callable[[], Target]]] = {
    "video_width is a string": ("body-schema", lambda: corrupted(width_as_string)),
    "accepted without task_id": ("body-schema", lambda: corrupted(accepted_without_task_id)),
    "500 on a valid sync call": ("valid-accepted", lambda: corrupted(server_error_on_sync)),
    "invalid request accepted": ("invalid-rejected", lambda: corrupted(invalid_accepted)),
    "no 401 without a token": ("auth-required", without_auth),
    "wrong code for the status": ("error-code-status", lambda: corrupted(wrong_code_for_status)),
    "batch count off by one": ("batch-count", lambda: corrupted(batch_count_off)),
    "media of another size": ("media-size", lambda: corrupted(media_of_another_size)),
    "states go backwards": ("states-forward", lambda: corrupted(StatesBackwards())),
    "timestamps move": ("timestamps-consistent", lambda: corrupted(TimestampsMove())),
    "callbacks of another shape": ("callback-shape", callbacks_of_another_shape),
}


def hide_control_api(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """The app with /__admin/ answering 404, as on a server that has no control API."""

    def hidden(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ["PATH_INFO"].startswith("/__admin"):
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"success": false, "error": {"code": "not_found", "message": "no"}}']
        return app(environ, start_response)

    return hidden


def without_control_api(luma: LumaService) -> Target:
    """The fake with /__admin/ hidden, as a server that has no control API would be."""
    app = hide_control_api(create_app(luma))
    target = Target.wsgi(app, TOKEN, name="a fake without control API")
    target.on_close = luma.close
    return target


# -- servers that kept the suite waiting ------------------------------------------------


class Polled:
    """A rewrite that counts the retrieves of each task (``polls``, answered ones: an
    unknown id is no task) and changes the records it answers with `change` (number:
    which retrieve of that task this is)."""

    def __init__(self) -> None:
        self.polls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, seen: Seen) -> None:
        asked = seen.request if isinstance(seen.request, dict) else {}
        if _is(seen, "/luma/tasks") and asked.get("action", "retrieve") == "retrieve":
            with self.lock:
                self.polls[str(asked.get("id"))] += 1
                number = self.polls[str(asked.get("id"))]
        else:
            number = 0
        for record in _records(seen):
            self.change(seen, record, number)

    def change(self, seen: Seen, record: dict[str, Any], number: int) -> None:
        raise NotImplementedError


class UnknownStateWord(Polled):
    """A running task's state is ``running`` (a word the contract does not know), or
    with ``always``, every task's — finished ones too."""

    def __init__(self, always: bool = False) -> None:
        super().__init__()
        self.always = always

    def change(self, seen: Seen, record: dict[str, Any], number: int) -> None:
        response = record.get("response")
        running = isinstance(response, dict) and response.get("state") == "processing"
        if running or self.always:
            record["response"] = {"task_id": record["id"], "state": "running"}


class NeverFinishes(Polled):
    """Every finished task is shown still processing — a valid record, for ever (as if
    ``/__admin/tasks/<id>/complete`` did nothing)."""

    def change(self, seen: Seen, record: dict[str, Any], number: int) -> None:
        if "finished_at" in record:
            for key in ("finished_at", "elapsed"):
                record.pop(key, None)
            record["response"] = {"task_id": record["id"], "state": "processing"}


class LosesIdMidPoll(Polled):
    """From the third retrieve of a task on, its record comes without ``id``."""

    def change(self, seen: Seen, record: dict[str, Any], number: int) -> None:
        if number >= 3:
            record.pop("id", None)


def stalling_target(rewrite: Polled, control: bool = True) -> tuple[Target, LumaService]:
    """The in-process fake (manual clock) behind ``rewrite``; without ``control``, the
    fake on a real clock with instant tasks and /__admin/ hidden (as the real service)."""
    if control:
        luma = fake()
        app: Callable[..., Iterable[bytes]] = create_app(luma)
    else:
        from mock_server.engine.delays import PRESETS

        luma = LumaService(Settings(delays=PRESETS["instant"], tokens=(TOKEN,), seed=3))
        app = hide_control_api(create_app(luma))
    target = Target.wsgi(Corrupt(app, rewrite), TOKEN, name="a stalling fake")
    target.on_close = luma.close
    return target, luma


STALLING: dict[str, tuple[str, Callable[[], Polled], bool]] = {
    "state 'running' while polled": ("body-schema", UnknownStateWord, True),
    "state 'running', no control API": ("body-schema", lambda: UnknownStateWord(True), False),
    "a task that never finishes": ("task-finishes", NeverFinishes, True),
    "a record that loses its id mid-poll": ("body-schema", LosesIdMidPoll, True),
}


class Unanswering:
    """A transport to a target that never answers: each request "times out" after
    ``seconds`` (reported, not waited: nothing sleeps). ``sent`` counts the requests."""

    base_url = "http://unanswering.test"

    def __init__(self, seconds: float = 40.0) -> None:
        self.seconds = seconds
        self.sent = 0

    def send(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> Answer:
        self.sent += 1
        return Answer(0, {}, b"no answer: read timed out", elapsed=self.seconds)
