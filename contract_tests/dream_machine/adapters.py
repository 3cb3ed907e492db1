"""How ``verify-client --dialect dream-machine`` drives a client of Luma's Dream Machine
API: an adapter.

A factory ``factory(base_url, token)`` — ``base_url`` ends in ``/dream-machine/v1`` —
returns an object with any of these methods, each making the real calls through the
client and returning what it returns (a dict, or a model with ``model_dump``), or
raising:

- ``create_video(**fields)`` — POST /generations/video with these body fields;
- ``create_image(**fields)`` — POST /generations/image;
- ``get(generation_id)``, ``delete(generation_id)``;
- ``list(limit=None, offset=None)`` — GET /generations;
- ``wait(generation_id)`` — poll until the generation is completed or failed, and
  return it (or raise on failed, with its ``failure_reason`` in the message).

A method left out skips its cases; an optional ``close()`` is called at the end.
`LumaaiAdapter` is the built-in one, for the official ``lumaai`` SDK with its own
defaults (2 retries, honouring ``retry-after`` and ``x-should-retry``): the factory
name ``lumaai`` selects it, with a timeout per attempt that keeps its retries within
the suite's ``client_timeout``.
"""

from __future__ import annotations

import time
from typing import Any

from ..consumer.dialect import AdapterFactory

OPERATIONS = ("create_video", "create_image", "get", "list", "delete", "wait")
POLL_EVERY = 0.25  # seconds between the built-in adapter's polls
WAIT_LIMIT = 30.0  # seconds the built-in adapter's wait() polls before giving up


class LumaaiAdapter:
    """The official Python SDK (``lumaai``), as an application would use it."""

    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        import lumaai

        self.client = lumaai.LumaAI(auth_token=token, base_url=base_url, timeout=timeout)

    @classmethod
    def factory(cls, *, client_timeout: float = 10.0) -> AdapterFactory:
        """The SDK with its own retries (2), each attempt given a quarter of
        ``client_timeout``: three attempts and their back-off (under 1.5 s) then end
        within it, as the suite asks of a client that meets a hung answer."""
        return lambda base_url, token: cls(base_url, token, timeout=client_timeout / 4)

    def create_video(self, **fields: Any) -> Any:
        return self.client.generations.create(**fields)

    def create_image(self, **fields: Any) -> Any:
        return self.client.generations.image.create(**fields)

    def get(self, generation_id: str) -> Any:
        return self.client.generations.get(generation_id)

    def list(self, limit: int | None = None, offset: int | None = None) -> Any:
        given = {k: v for k, v in (("limit", limit), ("offset", offset)) if v is not None}
        return self.client.generations.list(**given)

    def delete(self, generation_id: str) -> Any:
        return self.client.generations.delete(generation_id)

    def wait(self, generation_id: str) -> Any:
        """Poll every `POLL_EVERY` s until the generation ends; a failed one is returned
        as it is (its ``failure_reason`` says why), not raised."""
        deadline = time.monotonic() + WAIT_LIMIT
        while True:
            generation = self.client.generations.get(generation_id)
            if generation.state in ("completed", "failed") or time.monotonic() > deadline:
                return generation
            time.sleep(POLL_EVERY)  # the client's own pacing: what dm-polls-bounded checks

    def close(self) -> None:
        self.client.close()
