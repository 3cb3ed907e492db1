"""Deliberately broken clients of the toy API, for the consumer suite to catch."""

from __future__ import annotations

from typing import Any

import requests
from toy_dialect.adapters import ToyClient


class RetriesBlindly(ToyClient):
    """Posts the job again when the answer is lost: it may pay twice."""

    def create(self, prompt: str, callback_url: str | None = None) -> dict[str, Any]:
        try:
            return super().create(prompt, callback_url)
        except requests.ConnectionError:
            return super().create(prompt, callback_url)


class SwallowsErrors(ToyClient):
    """Returns the error body as if it were a job."""

    def get(self, job_id: str) -> dict[str, Any]:
        answer = self.session.get(f"{self.base_url}/jobs/{job_id}", timeout=self.timeout)
        return dict(answer.json())


def retries_blindly(base_url: str, token: str) -> RetriesBlindly:
    return RetriesBlindly(base_url, token, timeout=5.0)


def swallows_errors(base_url: str, token: str) -> SwallowsErrors:
    return SwallowsErrors(base_url, token, timeout=5.0)
