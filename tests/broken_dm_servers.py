"""Dream Machine servers that break the contract in exactly one way each: the real fake
(both dialects, in process) behind the `Corrupt` middleware of `broken_servers`, which
changes one thing of the Dream Machine answers. ``verify --dialect dream-machine`` must
fail on each, naming the right check.

`BROKEN_DM` maps a name to (the check that must fail, how to build the target).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from contract_tests.contract import media_dir
from contract_tests.provider import Target
from mock_server import dream_machine
from mock_server.web.app import create_app
from tests.broken_servers import TOKEN, Corrupt, Seen, fake, no_auth_needed

PREFIX = "/dream-machine/v1"
ONE_ID = re.compile(rf"^{PREFIX}/generations/([0-9a-f-]{{36}})$")


def dm_fake() -> Any:
    luma = fake()
    luma.sibling(dream_machine.DIALECT)
    return luma


def corrupted_dm(rewrite: Callable[[Seen], None], name: str = "a broken Dream Machine") -> Target:
    luma = dm_fake()
    target = Target.wsgi(Corrupt(create_app(luma), rewrite), TOKEN, name=name)
    target.on_close = luma.close
    return target


def _generations(seen: Seen) -> list[dict[str, Any]]:
    """The Generations of a Dream Machine answer: one, or a list page's."""
    if not seen.path.startswith(PREFIX + "/generations") or not isinstance(seen.body, dict):
        return []
    if "generations" in seen.body:
        return [g for g in seen.body["generations"] if isinstance(g, dict)]
    return [seen.body] if "state" in seen.body else []


def _create(seen: Seen) -> bool:
    return (
        seen.method == "POST"
        and seen.path.startswith(PREFIX + "/generations/")
        and (seen.status == 201)
    )


# -- one fault each -------------------------------------------------------------------


def created_with_200(seen: Seen) -> None:
    if _create(seen):
        seen.status = 200


def created_at_unix(seen: Seen) -> None:
    for generation in _generations(seen):
        generation["created_at"] = 1_700_000_000


def not_found_is_410(seen: Seen) -> None:
    if seen.path.startswith(PREFIX) and seen.status == 404:
        seen.status = 410


def list_unavailable(seen: Seen) -> None:
    if seen.method == "GET" and seen.path == PREFIX + "/generations":
        seen.status, seen.body = 503, {"detail": "try later"}


def invalid_is_422(seen: Seen) -> None:
    if seen.path.startswith(PREFIX) and seen.status == 400:
        seen.status = 422


def video_made_as_image(seen: Seen) -> None:
    if _create(seen) and seen.path.endswith("/video"):
        seen.body["generation_type"] = "image"


def get_answers_another(seen: Seen) -> None:
    if seen.method == "GET" and ONE_ID.match(seen.path) and seen.status == 200:
        seen.body["id"] = "00000000-0000-4000-8000-00000000beef"


def completed_with_reason(seen: Seen) -> None:
    for generation in _generations(seen):
        if generation.get("state") == "completed":
            generation["failure_reason"] = "it went fine"


def has_more_inverted(seen: Seen) -> None:
    if seen.path == PREFIX + "/generations" and seen.status == 200 and "has_more" in seen.body:
        seen.body["has_more"] = not seen.body["has_more"]


def media_of_another_ratio(seen: Seen) -> None:
    """Every video is the 9:21 file, whatever ratio was asked."""
    if seen.path.startswith("/dream-machine/media/") and seen.path.endswith(".mp4"):
        seen.body = (media_dir("dream-machine") / "540x1260.mp4").read_bytes()


def text_plain(seen: Seen) -> None:
    # The content type is the one thing changed: the body stays JSON.
    if seen.path.startswith(PREFIX) and isinstance(seen.body, dict):
        seen.content_type = "text/plain"


class Remembering:
    """A rewrite with a memory of the Generations shown, per id."""

    def __init__(self) -> None:
        self.shown: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()


class StatesBackwards(Remembering):
    """Once a generation has been shown completed, show it dreaming again."""

    def __call__(self, seen: Seen) -> None:
        with self.lock:
            for generation in _generations(seen):
                if generation["id"] in self.shown:
                    generation["state"], generation["assets"] = "dreaming", None
                elif generation.get("state") == "completed":
                    self.shown[generation["id"]] = generation


class CreatedAtMoves(Remembering):
    """Every time a generation is shown again, it was created a second later."""

    def __call__(self, seen: Seen) -> None:
        with self.lock:
            for generation in _generations(seen):
                count = len(self.shown.setdefault(generation["id"], {})) + 1
                self.shown[generation["id"]][str(count)] = True
                generation["created_at"] = f"2023-11-14T22:13:{count % 60:02d}Z"


class DeleteForgets(Remembering):
    """A deleted generation still answers a get with what it last showed."""

    def __call__(self, seen: Seen) -> None:
        with self.lock:
            for generation in _generations(seen):
                self.shown[generation["id"]] = generation
            found = ONE_ID.match(seen.path)
            if seen.method == "GET" and found and seen.status == 404:
                kept = self.shown.get(found.group(1))
                if kept is not None:
                    seen.status, seen.body = 200, kept


class NeverEnds:
    """Every generation is shown dreaming, for ever (as if /complete did nothing)."""

    def __call__(self, seen: Seen) -> None:
        for generation in _generations(seen):
            if generation.get("state") in ("completed", "failed"):
                generation.update(state="dreaming", assets=None, failure_reason=None)


def without_auth() -> Target:
    luma = dm_fake()
    app = no_auth_needed(create_app(luma))
    target = Target.wsgi(app, TOKEN, name="a Dream Machine without auth")
    target.on_close = luma.close
    return target


def callbacks_of_another_shape() -> Target:
    """The fake, but each Dream Machine callback is wrapped as ``{"data": ...}``."""
    luma = dm_fake()
    engine = luma.siblings[0]
    send = engine.callbacks.send
    engine.callbacks.send = lambda task_id, url, body: send(task_id, url, {"data": body})
    target = Target.wsgi(create_app(luma), TOKEN, name="a Dream Machine with odd callbacks")
    target.on_close = luma.close
    return target


BROKEN_DM: dict[str, tuple[str, Callable[[], Target]]] = {
    "create answers 200": ("status-allowed", lambda: corrupted_dm(created_with_200)),
    "created_at in unix seconds": ("body-schema", lambda: corrupted_dm(created_at_unix)),
    "404 becomes 410": ("dm-error-status", lambda: corrupted_dm(not_found_is_410)),
    "list refused with 503": ("dm-valid-accepted", lambda: corrupted_dm(list_unavailable)),
    "invalid body is 422": ("invalid-rejected", lambda: corrupted_dm(invalid_is_422)),
    "no 401 without a token": ("auth-required", without_auth),
    "a video made as an image": ("dm-generation-echoes", lambda: corrupted_dm(video_made_as_image)),
    "get answers another id": ("dm-get-answers-id", lambda: corrupted_dm(get_answers_another)),
    "states go backwards": ("states-forward", lambda: corrupted_dm(StatesBackwards())),
    "created_at moves": ("dm-set-once", lambda: corrupted_dm(CreatedAtMoves())),
    "completed with a failure_reason": (
        "dm-failure-reason",
        lambda: corrupted_dm(completed_with_reason),
    ),
    "has_more inverted": ("dm-list-page", lambda: corrupted_dm(has_more_inverted)),
    "a deleted generation answers": ("dm-deleted-gone", lambda: corrupted_dm(DeleteForgets())),
    "callbacks of another shape": ("dm-callback-shape", callbacks_of_another_shape),
    "answers as text/plain": ("content-type-json", lambda: corrupted_dm(text_plain)),
    "media of another ratio": ("dm-media", lambda: corrupted_dm(media_of_another_ratio)),
    "a generation that never ends": ("task-finishes", lambda: corrupted_dm(NeverEnds())),
}


# -- a stand-in for the upscale and audio routes ------------------------------------------------


class WithDerived:
    """The fake with POST /generations/{id}/upscale and /audio served in front of it, as
    Luma documents them (200 and a new Generation), until the fake has its own: each is
    a new video generation, or 404 ``{"detail"}`` when the
    source is not the caller's. ``served`` counts them."""

    PATH = re.compile(rf"^{PREFIX}/generations/([0-9a-f-]{{36}})/(upscale|audio)$")
    MORE: ClassVar[dict[str, str]] = {f"{PREFIX}/generations/image/reframe": "image",
            f"{PREFIX}/generations/video/reframe": "video",
            f"{PREFIX}/generations/video/modify": "video"}  # fmt: skip

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app, self.served, self.more = app, 0, 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        found = self.PATH.match(path)
        if environ["REQUEST_METHOD"] != "POST" or not (found or path in self.MORE):
            return self.app(environ, start_response)
        from werkzeug.test import Client

        client, auth = Client(self.app), environ.get("HTTP_AUTHORIZATION", "")
        # Asked at the host the caller used, so the new generation's asset URLs are its.
        here: dict[str, Any] = {
            "base_url": f"{environ['wsgi.url_scheme']}://{environ['HTTP_HOST']}",
            "headers": {"authorization": auth},
        }
        if found is None:
            return self._more(environ, start_response, client, here, self.MORE[path])
        source = client.get(f"{PREFIX}/generations/{found.group(1)}", **here)
        if source.status_code != 200:
            start_response(f"{source.status_code} X", [("Content-Type", "application/json")])
            return [source.get_data()]
        made = client.post(f"{PREFIX}/generations/video", **here,
                           json={"model": "ray-2", "prompt": "derived"})  # fmt: skip
        self.served += 1
        status = "200 OK" if made.status_code == 201 else f"{made.status_code} X"
        start_response(status, [("Content-Type", "application/json")])
        return [made.get_data()]

    def _more(
        self, environ: dict[str, Any], start_response: Callable[..., Any], client: Any,
        here: dict[str, Any], kind: str,
    ) -> Any:  # fmt: skip
        """A reframe or modify: an empty body is 400 {detail}; else a new generation."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = _json_or_empty(environ["wsgi.input"].read(length) if length else b"")
        if not body.get("media"):
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [b'{"detail": "media is required"}']
        fields = {"model": body.get("model"), "prompt": "reframed or modified"}
        if "aspect_ratio" in body:
            fields["aspect_ratio"] = body["aspect_ratio"]
        made = client.post(f"{PREFIX}/generations/{kind}", **here, json=fields)
        self.more += 1
        start_response(f"{made.status_code} X", [("Content-Type", "application/json")])
        return [made.get_data()]


def _json_or_empty(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def with_derived() -> tuple[Target, WithDerived]:
    luma = dm_fake()
    app = WithDerived(create_app(luma))
    target = Target.wsgi(app, TOKEN, name="the fake with upscale and audio in front")
    target.on_close = luma.close
    return target, app
