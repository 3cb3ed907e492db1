"""Clients of Luma's Dream Machine API that are each wrong in one way, as adapter
factories for ``verify-client --dialect dream-machine``. Each starts from the built-in
adapter of the official SDK (`LumaaiAdapter`) or a plain `requests` call, and breaks one
thing a real client gets wrong; the suite must name the check. `BROKEN_DM_CLIENTS` maps a
name to (the check that must fail, the cases to run — words of their names —, the
factory)."""

from __future__ import annotations

import time
from typing import Any

import lumaai
import requests

from contract_tests.dream_machine.adapters import LumaaiAdapter


class _NoRetries(LumaaiAdapter):
    """The SDK with its own retries off: the broken clients retry (or not) themselves."""

    def __init__(self, base_url: str, token: str) -> None:
        self.client = lumaai.LumaAI(auth_token=token, base_url=base_url, max_retries=0, timeout=5)


class GetsThroughTheList(LumaaiAdapter):
    """Finds a generation by listing them all, never GET /generations/{id}."""

    def get(self, generation_id: str) -> Any:
        page = self.client.generations.list(limit=100)
        return next(g for g in page.generations if g.id == generation_id)


class TokenWithoutBearer:
    """Sends ``Authorization: <token>``, as some APIs take it."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url, token

    def create_video(self, **fields: Any) -> Any:
        answer = requests.post(self.base_url + "/generations/video", json=fields,
                               headers={"authorization": self.token}, timeout=5)  # fmt: skip
        answer.raise_for_status()
        return answer.json()


class RatioWithAnX(LumaaiAdapter):
    """Writes ratios as another API wants them: ``16x9`` (and always sends one)."""

    def create_video(self, **fields: Any) -> Any:
        ratio = fields.pop("aspect_ratio", "16:9").replace(":", "x")
        return super().create_video(aspect_ratio=ratio, **fields)


class DropsTheOffset(LumaaiAdapter):
    def list(self, limit: int | None = None, offset: int | None = None) -> Any:
        return super().list(limit=limit)


class CreatesTwice(LumaaiAdapter):
    """Submits again to be sure (a double click that reaches the API)."""

    def create_video(self, **fields: Any) -> Any:
        super().create_video(**fields)
        return super().create_video(**fields)


class RetriesEveryError(_NoRetries):
    """Tries three times whatever the error (a 404 or a 400 included)."""

    def get(self, generation_id: str) -> Any:
        return self._again(lambda: super(RetriesEveryError, self).get(generation_id))

    def create_video(self, **fields: Any) -> Any:
        return self._again(lambda: super(RetriesEveryError, self).create_video(**fields))

    def _again(self, call: Any) -> Any:
        for attempt in range(3):
            try:
                return call()
            except lumaai.APIStatusError:
                if attempt == 2:
                    raise
                time.sleep(0.2)
        return None


class RetriesAfterAReset(_NoRetries):
    """Creates again once when the connection breaks, as a generic HTTP retry policy
    does — blind, with no idempotency key: the first create may have made its
    generation, so this may pay twice (a billing risk, not a break of the contract)."""

    def create_video(self, **fields: Any) -> Any:
        try:
            return super().create_video(**fields)
        except lumaai.APIConnectionError:
            return super().create_video(**fields)


class RetriesAtOnce(_NoRetries):
    """Retries a 429 at once, whatever Retry-After says."""

    def create_video(self, **fields: Any) -> Any:
        try:
            return super().create_video(**fields)
        except lumaai.RateLimitError:
            return super().create_video(**fields)


class IgnoresShouldRetry(_NoRetries):
    """Retries a 5xx once after a short pause, even when told not to."""

    def create_video(self, **fields: Any) -> Any:
        try:
            return super().create_video(**fields)
        except lumaai.InternalServerError:
            time.sleep(0.1)
            return super().create_video(**fields)


class ReturnsTheError(_NoRetries):
    """Hands the error body back as if it were the answer."""

    def create_video(self, **fields: Any) -> Any:
        try:
            return super().create_video(**fields)
        except lumaai.APIStatusError as error:
            return error.body

    def get(self, generation_id: str) -> Any:
        try:
            return super().get(generation_id)
        except lumaai.APIStatusError as error:
            return error.body


class CompletesEarly(LumaaiAdapter):
    """Reports a generation completed as soon as it exists."""

    def get(self, generation_id: str) -> Any:
        return {**super().get(generation_id).model_dump(mode="json"), "state": "completed"}


class LosesTheReason(LumaaiAdapter):
    """On a failed generation raises "generation failed", without saying why."""

    def wait(self, generation_id: str) -> Any:
        generation = super().wait(generation_id)
        if generation.state == "failed":
            raise RuntimeError("generation failed")
        return generation


class PollsInATightLoop(LumaaiAdapter):
    def wait(self, generation_id: str) -> Any:
        while True:
            generation = self.client.generations.get(generation_id)
            if generation.state in ("completed", "failed"):
                return generation


BROKEN_DM_CLIENTS: dict[str, tuple[str, str, Any]] = {
    "gets through the list": ("request-sent", "get a queued", GetsThroughTheList),
    "token without Bearer": ("dm-auth-bearer", "create a video", TokenWithoutBearer),
    "ratio 16x9": ("request-conforms", "create a video", RatioWithAnX),
    "drops the offset": ("fields-sent", "list a page", DropsTheOffset),
    "creates twice": ("one-bill-per-call", "create a video", CreatesTwice),
    "retries every error": ("dm-no-retry-on-4xx", "unknown id", RetriesEveryError),
    "retries a 429 at once": ("dm-honours-retry-after", "429", RetriesAtOnce),
    "ignores x-should-retry": ("dm-honours-should-retry", "x-should-retry", IgnoresShouldRetry),
    "returns the error": ("raises-on-error", "create refused", ReturnsTheError),
    "completes early": ("answer-returned", "get a dreaming", CompletesEarly),
    "loses the failure reason": ("dm-reports-failure", "wait: failed", LosesTheReason),
    "polls in a tight loop": ("dm-polls-bounded", "wait: completed", PollsInATightLoop),
}
