"""Adapters: how the consumer suite drives a client it knows nothing about.

The user writes a factory ``factory(base_url, token)`` that returns an object with up
to three methods. Each one makes the real calls through the user's own client and
returns the parsed JSON answer, or raises:

- ``generate(**fields)`` — ``POST /luma/videos`` with these body fields (no ``action``:
  the method says it), e.g. ``generate(prompt="a cat", aspect_ratio="1:1", async=True)``;
- ``extend(**fields)`` — the same with ``action: extend`` (``video_id`` or ``video_url``);
- ``retrieve(task_id)`` — ``POST /luma/tasks`` ``{"action": "retrieve", "id": task_id}``.

A method the adapter does not have skips the checks that need it; an optional
``close()`` is called when the suite is done. `RequestsAdapter` is the reference: a
plain `requests` client of the API, written the way the contract asks a client to be.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any, Protocol

import requests

OPERATIONS = ("generate", "extend", "retrieve")


class ClientAdapter(Protocol):
    """What the consumer suite calls. Every method is optional (see `operations`)."""

    def generate(self, **fields: Any) -> Any: ...

    def extend(self, **fields: Any) -> Any: ...

    def retrieve(self, task_id: str) -> Any: ...


AdapterFactory = Callable[[str, str], Any]


def operations(adapter: Any) -> tuple[str, ...]:
    """The operations an adapter offers, in the suite's order."""
    return tuple(name for name in OPERATIONS if callable(getattr(adapter, name, None)))


def load_factory(spec: str) -> AdapterFactory:
    """``"package.module:factory"`` → the factory; the current directory is importable,
    as it is for ``python -m`` (so a user's ``my_adapter.py`` is found)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"{spec!r} is not MODULE:FACTORY (e.g. my_adapter:make_adapter)")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    factory: Any = module
    for part in attribute.split("."):
        factory = getattr(factory, part)
    if not callable(factory):
        raise ValueError(f"{spec} is not callable")
    return factory


class LumaError(Exception):
    """The API answered an error (or an answer that is not a JSON object)."""

    def __init__(self, status: int, code: str | None, message: str, body: Any = None) -> None:
        super().__init__(f"{status} {code or 'error'}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body


class RequestsAdapter:
    """The reference client: `requests`, one session, and the contract's rules.

    - every non-2xx answer raises `LumaError` with the envelope's code, and so does a
      2xx whose body is not a JSON object or says ``success: false``;
    - a broken answer (reset, empty, cut short, not JSON) raises as `requests` does;
    - quick calls (retrieve, and generate with ``async`` or ``callback_url``) give up
      after ``timeout`` seconds; a synchronous generate may be held until the result
      is ready, so it waits for the body's own ``timeout`` (300 s by default) plus a
      margin instead.
    """

    SYNC_MARGIN = 30.0  # seconds beyond the body's timeout: the answer is on its way

    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update(
            {"authorization": f"Bearer {token}", "accept": "application/json"}
        )

    @classmethod
    def factory(cls, *, timeout: float = 10.0) -> AdapterFactory:
        """A factory with this timeout for quick calls (the suite's ``client_timeout``)."""
        return lambda base_url, token: cls(base_url, token, timeout=timeout)

    def generate(self, **fields: Any) -> dict[str, Any]:
        return self._post("/luma/videos", fields, self._videos_timeout(fields))

    def extend(self, **fields: Any) -> dict[str, Any]:
        body = {"action": "extend", **fields}
        return self._post("/luma/videos", body, self._videos_timeout(fields))

    def retrieve(self, task_id: str) -> dict[str, Any]:
        return self._post("/luma/tasks", {"action": "retrieve", "id": task_id}, self.timeout)

    def close(self) -> None:
        self.session.close()

    def _videos_timeout(self, fields: dict[str, Any]) -> float:
        if fields.get("async") is True or fields.get("callback_url"):
            return self.timeout
        return float(fields.get("timeout") or 300) + self.SYNC_MARGIN  # null: not given

    def _post(self, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        answer = self.session.post(self.base_url + path, json=body, timeout=timeout)
        try:
            parsed = answer.json()
        except ValueError:
            if answer.ok:
                raise  # a 2xx that is not JSON is a broken answer, not a result
            parsed = None
        error = parsed.get("error") if isinstance(parsed, dict) else None
        if not answer.ok or not isinstance(parsed, dict) or parsed.get("success") is False:
            code = error.get("code") if isinstance(error, dict) else None
            message = error.get("message", "") if isinstance(error, dict) else answer.text[:200]
            raise LumaError(answer.status_code, code, message, parsed)
        return parsed


def describe_call(operation: str, fields: dict[str, Any]) -> str:
    """``adapter.generate(prompt='a cat', async=True)`` — how a call reads in a report.
    Keyword names that are not identifiers (``async``) are shown as ``**{...}``."""
    if operation == "retrieve":
        return f"adapter.retrieve({fields.get('task_id')!r})"
    plain = [f"{k}={v!r}" for k, v in fields.items() if k.isidentifier() and k != "async"]
    odd = {k: v for k, v in fields.items() if not k.isidentifier() or k == "async"}
    if odd:
        plain.append(f"**{odd!r}")
    return f"adapter.{operation}({', '.join(plain)})"


def close_adapter(adapter: Any) -> None:
    """Call the adapter's ``close()``, if it has one."""
    close = getattr(adapter, "close", None)
    if callable(close):
        close()
