"""Clients of the Luma API that are each wrong in exactly one way, as adapter factories
for the consumer suite (``factory(base_url, token)``). Each starts from the reference
client and breaks one thing a real client gets wrong; the suite must name the check.

Every client gives up on a quick call after `TIMEOUT` seconds, so the hang cases of the
suite stay short (run the suite with ``client_timeout=TIMEOUT``).
"""

from __future__ import annotations

import uuid
from typing import Any

import requests

from contract_tests.acedata.adapters import LumaError, RequestsAdapter
from contract_tests.consumer import ConsumerReport, run_consumer_suite

TIMEOUT = 0.5

reference = RequestsAdapter.factory(timeout=TIMEOUT)


def suite(factory: object, fake_url: str, only: str) -> ConsumerReport:
    """The ci profile on the cases whose name contains ``only``, for a client here."""
    return run_consumer_suite(
        factory,  # type: ignore[arg-type]
        fake_url=fake_url,
        client_timeout=TIMEOUT,
        only=lambda case: only in case.name,
    )


class _Broken(RequestsAdapter):
    def __init__(self, base_url: str, token: str) -> None:
        super().__init__(base_url, token, timeout=TIMEOUT)


class IgnoresRateLimit(_Broken):
    """A 429 comes back as if it were the answer: the caller reads an error body as a
    result (and never backs off)."""

    def _post(self, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        try:
            return super()._post(path, body, timeout)
        except LumaError as error:
            if error.status == 429:
                return error.body
            raise


class SucceedsOn500(_Broken):
    """Treats a 5xx as "accepted, try again later" and reports success."""

    def _post(self, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        try:
            return super()._post(path, body, timeout)
        except LumaError as error:
            if error.status >= 500:
                return {"success": True, "state": "pending"}
            raise


class InvalidAspectRatio(_Broken):
    """Writes ratios the way another API wants them: ``16x9`` (and always sends one)."""

    def generate(self, **fields: Any) -> dict[str, Any]:
        ratio = fields.pop("aspect_ratio", "16:9")
        return super().generate(aspect_ratio=ratio.replace(":", "x"), **fields)


class DropsCallbackUrl(_Broken):
    """Forgets the callback URL: the service answers synchronously and never calls back."""

    def generate(self, **fields: Any) -> dict[str, Any]:
        fields.pop("callback_url", None)
        return super().generate(**fields)


class EarlyCompletion(_Broken):
    """Takes "processing" for "done": reports completion while the video is still being
    made."""

    def retrieve(self, task_id: str) -> dict[str, Any]:
        record = super().retrieve(task_id)
        response = record.get("response")
        if isinstance(response, dict) and response.get("state") == "processing":
            record = {**record, "response": {**response, "state": "completed"}}
        return record


class SwallowsReset(_Broken):
    """Catches connection errors and returns an empty answer, as if nothing happened."""

    def _post(self, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        try:
            return super()._post(path, body, timeout)
        except requests.ConnectionError:
            return {}


class WrongTaskId(_Broken):
    """Hands out an id of its own instead of the service's task id."""

    def generate(self, **fields: Any) -> dict[str, Any]:
        answer = super().generate(**fields)
        return {**answer, "task_id": str(uuid.uuid4())}


class NoTimeout(_Broken):
    """Waits for ever for an answer (no read timeout)."""

    def __init__(self, base_url: str, token: str) -> None:
        super().__init__(base_url, token)
        self.timeout = None  # type: ignore[assignment]


class ExtendsAStaleVideo(_Broken):
    """Extends a video id it remembers from elsewhere instead of the one it was given."""

    def extend(self, **fields: Any) -> dict[str, Any]:
        if "video_id" in fields:
            fields["video_id"] = "0105c090-03a5-425a-8026-523341cd575b"  # the guide's
        return super().extend(**fields)


class SendsModel(_Broken):
    """Adds a field the contract does not know (as the Luma CLI does): a warning only."""

    def generate(self, **fields: Any) -> dict[str, Any]:
        return super().generate(model="luma", **fields)


class PostsTwice(_Broken):
    """Sends every generate and extend twice (a "warm-up" post, then the real one) and
    returns the second answer: one call pays for two videos."""

    def _post(self, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        if path == "/luma/videos":
            super()._post(path, body, timeout)
        return super()._post(path, body, timeout)


class RetriesAfterReset(_Broken):
    """Retries any request once when the connection breaks (a reset, an empty reply), as
    a generic HTTP retry policy does — blind: a POST /luma/videos that was reset may
    already have made its task, so the retry may pay for a second video. (Retrying a
    retrieve is harmless.)"""

    def _post(self, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        try:
            return super()._post(path, body, timeout)
        except requests.ConnectionError:
            return super()._post(path, body, timeout)


class RetriesRefusals(_Broken):
    """Well behaved: retries a POST /luma/videos (twice at most) after an answer that
    says no task was made — 429, or a 5xx other than 504 — then raises the last refusal.
    (A real client would back off first; the suite's refusals carry no Retry-After.)"""

    RETRIED: frozenset[int] = frozenset({429, 500, 502, 503})
    ATTEMPTS = 3

    def _post(self, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        for attempt in range(1, self.ATTEMPTS + 1):
            try:
                return super()._post(path, body, timeout)
            except LumaError as error:
                retry = path == "/luma/videos" and error.status in self.RETRIED
                if not retry or attempt == self.ATTEMPTS:
                    raise
        raise AssertionError("unreachable")


class RetriesAfter504(RetriesRefusals):
    """Retries after a 504 too: a synchronous call that timed out leaves its task
    running, so the retry starts a second video."""

    RETRIED = frozenset({429, 500, 502, 503, 504})


class GenerateOnly(_Broken):
    """A client with no extend and no retrieve: those checks are skipped."""

    extend = None  # type: ignore[assignment]
    retrieve = None  # type: ignore[assignment]


ignores_429 = IgnoresRateLimit
success_on_500 = SucceedsOn500
invalid_aspect_ratio = InvalidAspectRatio
drops_callback_url = DropsCallbackUrl
early_completion = EarlyCompletion
swallows_reset = SwallowsReset
wrong_task_id = WrongTaskId
extends_a_stale_video = ExtendsAStaleVideo
posts_twice = PostsTwice
retries_after_reset = RetriesAfterReset
retries_refusals = RetriesRefusals
retries_after_504 = RetriesAfter504
