"""`Player`: a cassette played back as a service, on the fake's clock.

Each request is matched against the recorded exchanges (`matching`). Of those it
matches: a create (the pack's billable call) is answered once, in recorded order (a
second one would be billing twice, so it is refused); a poll of a task follows the
task's recorded timeline (`timeline.pick`); anything else is answered in recorded order,
the last one again once all were. An answer the recording waited long for (a synchronous
call) is held for its recorded duration, scaled by ``speed``, on the fake's clock.

A replayed create's task is adopted by its dialect's engine (`Engine.adopt`) with the
times the recording showed, so waits, the journal, the dashboard and reset see it; its
recorded callbacks are delivered to the replaying client's own ``callback_url`` at their
recorded offsets through the engine's dispatcher (target policy, retries, journal).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..cassettes.format import Cassette, decode_body
from ..engine.changes import RESET, Change
from ..engine.errors import ApiError
from ..engine.fake import Fake
from ..engine.service import Engine
from ..engine.tasks import Task
from .matching import Asked, Fields, Matcher, differences, nearest
from .media import Media
from .timeline import TaskRecording, pick, task_recordings

log = logging.getLogger("luma_mock.replay")

# Answers the recording waited at least this long for are held as long (scaled): a
# synchronous call. Shorter ones are network noise, answered at once.
HOLD_AT_LEAST = 1.0
# Never replayed as recorded: the body is sent decoded and framed anew by the server.
DROPPED_HEADERS = frozenset(
    {"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive",
     "date", "set-cookie", "server", "proxy-connection", "te", "trailer", "upgrade"}
)  # fmt: skip
UNMATCHED_HEADER = ("X-Luma-Mock-Replay", "unmatched")


class NotRecorded(Exception):
    """A request the cassette has no (more) answer for: the message names the nearest
    recorded request and the fields that differ."""

    def __init__(self, message: str, seq: int | None, differing: list[str]) -> None:
        super().__init__(message)
        self.message, self.seq, self.differing = message, seq, differing


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    seq: int
    task_id: str | None = None


@dataclass
class _Exchange:
    seq: int
    event: Mapping[str, Any]
    fields: Fields

    @property
    def role(self) -> str:
        return str(self.event.get("role") or "other")

    @property
    def task(self) -> str | None:
        task = self.event.get("task")
        return str(task) if task else None


@dataclass
class _Run:
    """What one play of the cassette has done so far (a rewind starts a new one)."""

    start: float
    used: set[int] = field(default_factory=set)
    created: dict[str, float] = field(default_factory=dict)  # task -> when answered
    # task -> {the recording client's callback URL: the replaying client's}, for the
    # places the provider echoes it (a task record, a callback body).
    urls: dict[str, dict[str, str]] = field(default_factory=dict)
    held: set[threading.Event] = field(default_factory=set)
    unmatched: list[dict[str, Any]] = field(default_factory=list)


class Player:
    def __init__(
        self,
        fake: Fake,
        cassette: Cassette,
        *,
        speed: float = 1.0,
        ignore: Iterable[str] = (),
        hold_at_least: float = HOLD_AT_LEAST,
    ) -> None:
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"--speed must be a positive number, got {speed}")
        self.fake, self.cassette, self.speed = fake, cassette, speed
        self.hold_at_least = hold_at_least
        self.matcher = Matcher(ignore)
        events = cassette.events
        self.exchanges = [
            _Exchange(int(e.get("seq", i)), e, self.matcher.recorded(e.get("request") or {}))
            for i, e in enumerate(events)
            if e.get("type") == "exchange" and not e.get("own")
        ]
        # By method and path: a request is compared with those of its own endpoint only.
        self.by_endpoint: dict[tuple[str, str], list[_Exchange]] = {}
        for exchange in self.exchanges:
            endpoint = (exchange.fields["method"], exchange.fields["path"])
            self.by_endpoint.setdefault(endpoint, []).append(exchange)
        self.tasks: dict[str, TaskRecording] = task_recordings(events)
        self.media = Media(cassette.of_type("media"), cassette.media)
        self._lock = threading.Lock()
        self.run = _Run(fake.clock.now())
        fake.changes.subscribe(self._heard)

    # -- a request -------------------------------------------------------------------

    def answer(self, asked: Asked, base_url: str, token: str | None) -> Answer:
        """The recorded answer to ``asked`` (held as the recording was), or NotRecorded."""
        fields = self.matcher.asked(asked)
        with self._lock:
            run = self.run
            try:
                chosen = self._choose(fields, run)
            except NotRecorded as refused:
                run.unmatched.append(
                    {"method": asked.method, "path": asked.path, "nearest": refused.seq,
                     "differing": refused.differing, "message": refused.message}
                )  # fmt: skip
                raise
            if chosen.role == "create":  # a refused one too: the retry gets the next
                run.used.add(chosen.seq)
        event = chosen.event
        arrived = self.fake.clock.now()
        duration = float(event.get("duration") or 0.0)
        if duration >= self.hold_at_least:
            self._hold(run, arrived + duration / self.speed)
        if chosen.role == "create" and chosen.task:
            self._created(chosen, asked, run, base_url, token)
        return self._render(chosen, base_url, run.urls.get(chosen.task or "", {}))

    def _choose(self, fields: Fields, run: _Run) -> _Exchange:
        endpoint = self.by_endpoint.get((fields["method"], fields["path"]), [])
        matching = [e for e in endpoint if not differences(e.fields, fields)]
        if not matching:
            raise self._unmatched(fields)
        first = matching[0]
        if first.role == "poll" and first.task:
            polls = [e.event for e in matching if e.task == first.task]
            chosen = pick(polls, *self._elapsed(first.task, run))
            return next(e for e in matching if e.event is chosen)
        fresh = [e for e in matching if e.seq not in run.used]
        if first.role == "create":
            if not fresh:
                described = f"{first.fields['method']} {first.fields['path']}"
                raise NotRecorded(
                    f"{described} was recorded {len(matching)} time(s) (seq "
                    f"{', '.join(str(e.seq) for e in matching)}) and each was replayed "
                    "already: a create is answered once (again would be billing twice)",
                    matching[-1].seq,
                    [],
                )
            return fresh[0]
        chosen = fresh[0] if fresh else matching[-1]
        run.used.add(chosen.seq)
        return chosen

    def _elapsed(self, task_id: str, run: _Run) -> tuple[float, float]:
        """Recorded seconds into the task's life now, and the recorded anchor they count
        from: since its replayed create's answer, or (never created in this replay) since
        the replay's start, against the recording's own start."""
        now = self.fake.clock.now()
        recording = self.tasks.get(task_id)
        created = run.created.get(task_id)
        if created is None or recording is None:
            return (now - run.start) * self.speed, 0.0
        return (now - created) * self.speed, recording.anchor

    def _unmatched(self, fields: Fields) -> NotRecorded:
        asked = f"{fields.get('method')} {fields.get('path')}"
        if not self.exchanges:
            return NotRecorded(f"no recording of {asked}: the cassette holds none", None, [])
        seq, differing = nearest([(e.seq, e.fields) for e in self.exchanges], fields)
        near = next(e for e in self.exchanges if e.seq == seq)
        return NotRecorded(
            f"no recording of {asked}; nearest: {near.fields['method']} "
            f"{near.fields['path']} (seq {seq}), differing: {', '.join(differing)}",
            seq,
            differing,
        )

    def _hold(self, run: _Run, until: float) -> None:
        """Wait, without holding the server (a gevent event under the server), until the
        fake's clock reaches ``until`` — or the replay is rewound."""
        wake = threading.Event()
        with self._lock:
            run.held.add(wake)
        due = self.fake.scheduler.at(until, wake.set)
        try:
            wake.wait()
        finally:
            due.cancel()
            with self._lock:
                run.held.discard(wake)
        if self.run is not run:
            raise ApiError("api_error", "the replay was rewound while this call was held")

    # -- a replayed create -------------------------------------------------------------

    def _created(
        self, chosen: _Exchange, asked: Asked, run: _Run, base_url: str, token: str | None
    ) -> None:
        task_id = chosen.task
        assert task_id is not None
        recording = self.tasks[task_id]
        now = self.fake.clock.now()
        body = _json_of(asked.body)
        client_url = body.get("callback_url") if isinstance(body, dict) else None
        recorded = _json_of(
            decode_body(((recording.create or {}).get("request") or {}).get("body"))
        )
        recorded_url = recorded.get("callback_url") if isinstance(recorded, dict) else None
        urls: dict[str, str] = {}
        if isinstance(client_url, str) and isinstance(recorded_url, str):
            urls = {recorded_url: client_url} if recorded_url != client_url else {}
        with self._lock:
            if self.run is not run:
                return
            run.created[task_id] = now
            run.urls[task_id] = urls
        engine = self._engine(chosen)
        scale = 1.0 / self.speed
        ends, failed = recording.ended()
        task = Task(
            id=task_id,
            output_id=task_id,
            action="replay",
            request=body if isinstance(body, dict) else {},
            token=token or "",
            trace_id=task_id,
            variant="",
            public_url=base_url,
            created_at=now,
            clock=self.fake.clock,
            starts_at=now + recording.started() * scale,
            ends_at=now + ends * scale,
        )

        def view(task: Task) -> dict[str, Any]:
            shown = recording.shown((self.fake.clock.now() - now) * self.speed)
            shown = self.media.rewrite(shown, base_url, urls)
            return shown if isinstance(shown, dict) else {"answer": shown}

        failure = ApiError("api_error", "the task failed, as recorded") if failed else None
        engine.adopt(task, view, failure)
        if not isinstance(client_url, str) or not recording.callbacks:
            return
        last = len(recording.callbacks) - 1
        for number, (at, sent) in enumerate(recording.callbacks):
            # The last (the result) under the task's id, as the fake keys its callback;
            # those before it (progress) under id:N.
            key = task_id if number == last else f"{task_id}:{number + 1}"
            due = now + recording.offset(at) * scale
            payload = self.media.rewrite(sent, base_url, urls)
            self.fake.scheduler.at(
                due, self._deliver, engine, run, key, client_url, payload, now=False
            )

    def _deliver(self, engine: Engine, run: _Run, key: str, url: str, body: Any) -> None:
        if self.run is run:  # not a callback of a play since rewound
            engine.callbacks.send(key, url, body)

    def _engine(self, chosen: _Exchange) -> Engine:
        engine = self.fake.engines.get(str(chosen.event.get("dialect")))
        if engine is None:
            name = self.fake.dialect_of(str(chosen.fields.get("path", "/"))).name
            engine = self.fake.engines[name]
        return engine

    # -- the answer --------------------------------------------------------------------

    def _render(self, chosen: _Exchange, base_url: str, urls: dict[str, str]) -> Answer:
        response = chosen.event.get("response") or {}
        headers = [
            (name, str(value))
            for name, value in (response.get("headers") or {}).items()
            if name.lower() not in DROPPED_HEADERS
        ]
        stored = response.get("body")
        if isinstance(stored, Mapping) and "json" in stored:
            value = self.media.rewrite(stored["json"], base_url, urls)
            payload = json.dumps(value, ensure_ascii=False).encode("utf-8")
        elif isinstance(stored, Mapping) and "text" in stored:
            payload = self.media.rewrite(str(stored["text"]), base_url, urls).encode("utf-8")
        else:
            payload = decode_body(stored)
        status = int(response.get("status") or 200)
        return Answer(status, headers, payload, chosen.seq, chosen.task)

    # -- rewind ------------------------------------------------------------------------

    def rewind(self) -> None:
        """Back to the start: nothing consumed, no task created, the clock's time now
        the start; calls held are answered with an error."""
        with self._lock:
            held = self.run.held
            self.run = _Run(self.fake.clock.now())
        for wake in held:
            wake.set()

    def _heard(self, change: Change) -> None:
        if change.kind == RESET:  # the fake was reset (and its clock put back): rewind
            self.rewind()

    def progress(self) -> dict[str, Any]:
        """This play so far (`GET /__admin/replay`): the recorded creates not replayed
        yet, by seq, and each request refused as unrecorded — what a test's teardown
        checks."""
        with self._lock:
            used, unmatched = set(self.run.used), list(self.run.unmatched)
        creates = [e.seq for e in self.exchanges if e.role == "create" and e.task]
        return {
            "cassette": str(self.cassette.path),
            "unreplayed_creates": [seq for seq in creates if seq not in used],
            "unmatched": unmatched,
        }


def _json_of(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        return None
