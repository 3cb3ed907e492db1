"""The control API from Python, with the same names as an engine's control side:
`RemoteFake` for a fake in another process (over HTTP), and `ControlClient` over any way
of sending a control call — the pytest plugin uses one that calls the fake's app in
process, so a test reads the same against ``luma_fake`` and ``luma_server``. Answers are
the control API's JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from contract_tests.contract.packs import packs

from ..engine.errors import ApiError


def _known_codes() -> None:
    """Register every registered dialect's error codes (loading a dialect's fake half
    registers them), which `fail` checks a code against, as the engine does."""
    for pack in packs():
        pack.load_fake()


_known_codes()


class ControlError(Exception):
    """A control call answered with an error envelope."""

    def __init__(self, status: int, body: Any) -> None:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        self.status = status
        self.code = error.get("code")
        super().__init__(f"{status} {self.code}: {error.get('message', body)}")


class _Part:
    def __init__(self, fake: ControlClient) -> None:
        self._fake = fake


class RemoteClock(_Part):
    def now(self) -> float:
        return self._fake.call("GET", "/clock")["now"]

    @property
    def manual(self) -> bool:
        return self._fake.call("GET", "/clock")["manual"]

    def advance(self, seconds: float) -> float:
        return self._fake.advance(seconds)


class RemoteScenarios(_Part):
    def add(self, rule: dict[str, Any]) -> dict[str, Any]:
        return self._fake.call("POST", "/scenarios", rule)

    def list(self) -> list[dict[str, Any]]:
        return self._fake.call("GET", "/scenarios")["rules"]

    def remove(self, rule_id: int) -> bool:
        try:
            self._fake.call("DELETE", f"/scenarios/{rule_id}")
        except ControlError as refused:
            if refused.status == 404:
                return False
            raise
        return True

    def clear(self) -> None:
        self._fake.call("DELETE", "/scenarios")


class RemoteJournal(_Part):
    def entries(self, **filters: Any) -> list[dict[str, Any]]:
        query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in filters.items()}
        return self._fake.call("GET", "/journal", params=query)["entries"]

    def wait(self, timeout: float = 10.0, **filters: Any) -> dict[str, Any]:
        return self._fake.call("POST", "/journal/wait", {**filters, "timeout": timeout})


class RemoteAccounts(_Part):
    def set_balance(self, token: str, credits: float | None) -> None:
        self._fake.call("POST", "/balances", {"token": token, "credits": credits})

    def balances(self) -> list[dict[str, Any]]:
        return self._fake.call("GET", "/balances")["balances"]

    def set_rate_limit(self, limit: str | None) -> None:
        """``"10/60"``, or None to lift it."""
        self._fake.call("POST", "/rate-limit", {"limit": limit})


class RemotePayments(_Part):
    """The gateway's side (``serve --x402``): its record of payments, payers' balances
    (USDC as decimals), refusals scripted for the next payments."""

    def list(self) -> list[dict[str, Any]]:
        return self._fake.call("GET", "/x402/payments")["payments"]

    def set_balance(self, payer: str, usdc: str) -> None:
        self._fake.call("PUT", f"/x402/balances/{payer}", {"usdc": usdc})

    def refuse(self, reason: str, count: int = 1) -> None:
        """The next ``count`` payments are refused with ``reason`` (a protocol code)."""
        self._fake.call("POST", "/x402/refusals", {"reason": reason, "count": count})


# How a control call is sent: (method, path under /__admin, JSON body, query) -> (status, JSON)
Send = Callable[[str, str, Any, dict[str, Any] | None], tuple[int, Any]]


class ControlClient:
    """The control API through ``send``; `RemoteFake` sends over HTTP."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.clock = RemoteClock(self)
        self.scenarios = RemoteScenarios(self)
        self.journal = RemoteJournal(self)
        self.accounts = RemoteAccounts(self)
        self.payments = RemotePayments(self)

    def call(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        status, answer = self._send(method, path, body, params)
        if status >= 400:
            raise ControlError(status, answer)
        return answer

    def has_control_api(self) -> bool:
        try:
            self.call("GET", "/clock")
        except (ControlError, requests.RequestException, ValueError):
            return False
        return True

    def advance(self, seconds: float) -> float:
        return self.call("POST", "/clock/advance", {"seconds": seconds})["now"]

    def task(self, task_id: str) -> dict[str, Any]:
        return self.call("GET", f"/tasks/{task_id}")

    def complete(self, task_id: str) -> dict[str, Any]:
        return self.call("POST", f"/tasks/{task_id}/complete")

    def fail(
        self, task_id: str, code: str = "api_error", message: str | None = None
    ) -> dict[str, Any]:
        ApiError(code)  # refuse an undocumented code here, as the engine does
        return self.call("POST", f"/tasks/{task_id}/fail", {"code": code, "message": message})

    def wait_for_state(
        self, task_id: str, state: str = "finished", timeout: float = 10.0
    ) -> dict[str, Any]:
        return self.call("POST", f"/tasks/{task_id}/wait", {"state": state, "timeout": timeout})

    def delivery(self, task_id: str) -> dict[str, Any] | None:
        try:
            return self.call("GET", f"/tasks/{task_id}/callback")
        except ControlError as missing:
            if missing.status == 404:
                return None
            raise

    def wait_for_callback(self, task_id: str, timeout: float = 10.0) -> dict[str, Any]:
        return self.call("POST", f"/tasks/{task_id}/callback/wait", {"timeout": timeout})

    def set_delays(self, spec: Any) -> None:
        self.call("POST", "/delays", {"delay": spec})

    def reset(self) -> None:
        self.call("POST", "/reset")


class RemoteFake(ControlClient):
    """Control of a fake at ``url`` (``/__admin/``), e.g. one started by ``luma-mock serve``."""

    def __init__(self, url: str, control_token: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        if control_token:
            self.session.headers["Authorization"] = f"Bearer {control_token}"
        super().__init__(self._http)

    def _http(
        self, method: str, path: str, body: Any, params: dict[str, Any] | None
    ) -> tuple[int, Any]:
        wait = float(body.get("timeout", 0)) if isinstance(body, dict) else 0.0
        response = self.session.request(
            method,
            f"{self.url}/__admin{path}",
            json=body,
            params=params,
            timeout=self.timeout + wait,  # a long-poll may hold as long as it was asked to
        )
        return response.status_code, response.json()

    def close(self) -> None:
        self.session.close()
