"""How ``verify-client --dialect toy`` drives a client of the toy API: an adapter with
``create(prompt, callback_url=None)`` (POST /jobs) and ``get(job_id)`` (GET /jobs/{id}),
each returning the job or raising. `ToyClient` is the built-in one (``requests``), and
the factory name ``toy`` selects it."""

from __future__ import annotations

from typing import Any

import requests

OPERATIONS = ("create", "get")


class ToyError(Exception):
    """An answer that is not a job."""


class ToyClient:
    """A small, careful client of the toy API: one request a call, never a retry."""

    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self.session = requests.Session()
        self.session.headers["authorization"] = f"Bearer {token}"

    def _job(self, answer: requests.Response) -> dict[str, Any]:
        try:
            body = answer.json()
        except ValueError as bad:
            raise ToyError(f"{answer.status_code}: not JSON") from bad
        if answer.status_code >= 400 or not isinstance(body, dict):
            raise ToyError(f"{answer.status_code}: {body}")
        return body

    def create(self, prompt: str, callback_url: str | None = None) -> dict[str, Any]:
        body = {"prompt": prompt, **({"callback_url": callback_url} if callback_url else {})}
        return self._job(self.session.post(f"{self.base_url}/jobs", json=body,
                                           timeout=self.timeout))  # fmt: skip

    def get(self, job_id: str) -> dict[str, Any]:
        return self._job(self.session.get(f"{self.base_url}/jobs/{job_id}", timeout=self.timeout))

    def close(self) -> None:
        self.session.close()
