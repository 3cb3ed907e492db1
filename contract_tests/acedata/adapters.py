"""How the consumer suite drives a client of the AceData Luma API: an adapter.

A factory ``factory(base_url, token)`` returns an object with up to three methods. Each
one makes the real calls through the user's own client and returns the parsed JSON
answer, or raises:

- ``generate(**fields)`` — ``POST /luma/videos`` with these body fields (no ``action``:
  the method says it), e.g. ``generate(prompt="a cat", aspect_ratio="1:1", async=True)``;
- ``extend(**fields)`` — the same with ``action: extend`` (``video_id`` or ``video_url``);
- ``retrieve(task_id)`` — ``POST /luma/tasks`` ``{"action": "retrieve", "id": task_id}``.

A method the adapter does not have skips the checks that need it; an optional
``close()`` is called when the suite is done. `RequestsAdapter` is the reference: a
plain `requests` client of the API, written the way the contract asks a client to be
(the built-in adapter ``requests``).

Paying per call (x402, ``verify-client --x402``): a factory that also takes a ``payer``
keyword (``factory(base_url, token, payer=None)``) is given a payer
(`contract_tests.payments.Payer`) and an empty token for the x402 situations; the
client pays the gateway's 402 with it — the SDK through ``payment_handler=
payer.handler()``, a raw client with ``payer.headers(answer)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests

from ..consumer.dialect import AdapterFactory

if TYPE_CHECKING:
    from ..payments import Payer

OPERATIONS = ("generate", "extend", "retrieve")


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

    - every non-2xx answer raises `LumaError` with the envelope's code (a gateway's
      string ``error``: that reason), and so does a 2xx whose body is not a JSON object
      or says ``success: false``;
    - with a ``payer`` (and no token), a 402 is paid once: the same request again with
      the payer's ``PAYMENT-SIGNATURE``; a second 402 raises;
    - a broken answer (reset, empty, cut short, not JSON) raises as `requests` does;
    - quick calls (retrieve, and generate with ``async`` or ``callback_url``) give up
      after ``timeout`` seconds; a synchronous generate may be held until the result
      is ready, so it waits for the body's own ``timeout`` (300 s by default) plus a
      margin instead.
    """

    SYNC_MARGIN = 30.0  # seconds beyond the body's timeout: the answer is on its way

    def __init__(
        self, base_url: str, token: str, *, timeout: float = 10.0, payer: Payer | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.payer = payer
        self.session = requests.Session()
        self.session.headers.update({"accept": "application/json"})
        if token:  # a paying client may have none
            self.session.headers["authorization"] = f"Bearer {token}"

    @classmethod
    def factory(cls, *, timeout: float = 10.0) -> AdapterFactory:
        """A factory with this timeout for quick calls (the suite's ``client_timeout``)."""

        def make(base_url: str, token: str, payer: Payer | None = None) -> RequestsAdapter:
            return cls(base_url, token, timeout=timeout, payer=payer)

        return make

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
        answer = self._send(path, body, timeout)
        if answer.status_code == 402 and self.payer is not None:
            answer = self._pay(path, body, timeout, answer)
        return self._read(answer)

    def _send(
        self, path: str, body: dict[str, Any], timeout: float, headers: dict[str, str] | None = None
    ) -> requests.Response:
        return self.session.post(self.base_url + path, json=body, headers=headers, timeout=timeout)

    def _pay(
        self, path: str, body: dict[str, Any], timeout: float, challenge: requests.Response
    ) -> requests.Response:
        """The paid retry, once: a second 402 is the answer (and raises)."""
        assert self.payer is not None
        return self._send(path, body, timeout, self.payer.headers(challenge))

    def _read(self, answer: requests.Response) -> dict[str, Any]:
        try:
            parsed = answer.json()
        except ValueError:
            if answer.ok:
                raise  # a 2xx that is not JSON is a broken answer, not a result
            parsed = None
        error = parsed.get("error") if isinstance(parsed, dict) else None
        if not answer.ok or not isinstance(parsed, dict) or parsed.get("success") is False:
            code = error.get("code") if isinstance(error, dict) else None
            code = error if isinstance(error, str) else code  # a gateway's reason code
            message = error.get("message", "") if isinstance(error, dict) else answer.text[:200]
            raise LumaError(answer.status_code, code, message, parsed)
        return parsed
