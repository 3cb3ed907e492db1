"""The one stage every dialect's client is checked on: ``luma-mock serve`` (every dialect
it knows, on its own server and real sockets, so every fault below HTTP plays), started
in a process of its own — or a running fake given by URL — and its control API (reset,
scenario rules, the journal of what a client sent with headers and arrival times, the
manual clock, finishing a task), with the suite's own requests to it."""

from __future__ import annotations

from typing import Any

import requests

from mock_server.harness.process import ServedFake, serve_command

from ..checks.client_calls import Seen

SETUP_SCENARIO = "luma-mock-consumer-setup"  # marks the suite's own requests to the fake


class ControlError(Exception):
    """The fake refused a control call or one of the suite's own requests."""


class FakeControl:
    """The fake's control API, and the suite's own requests to it."""

    def __init__(self, url: str, control_token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self._headers = {"authorization": f"Bearer {control_token}"} if control_token else {}

    def _control(
        self, method: str, path: str, body: Any = None, timeout: float = 30, **params: Any
    ) -> Any:
        answer = self.session.request(
            method,
            f"{self.url}/__admin{path}",
            json=body,
            params=params or None,
            headers=self._headers,
            timeout=timeout,
        )
        if answer.status_code >= 300:
            raise ControlError(f"{method} /__admin{path}: {answer.status_code} {answer.text}")
        return answer.json()

    def reset(self) -> None:
        self._control("POST", "/reset")

    def add_rule(self, rule: dict[str, Any]) -> None:
        self._control("POST", "/scenarios", rule)

    def journal(self, since: int = 0, dialect: str = "") -> list[Seen]:
        entries = self._control("GET", "/journal", kind="request", since=since)["entries"]
        return [Seen.from_journal(e, dialect) for e in entries]

    def wait_for(self, timeout: float, **filters: Any) -> dict[str, Any] | None:
        """The first journal entry matching ``filters`` (the control API's), waiting up
        to ``timeout`` seconds for it; None when none came."""
        body = {"kind": "request", **filters, "timeout": timeout}
        try:
            entry: dict[str, Any] = self._control("POST", "/journal/wait", body, timeout + 10)
        except ControlError as refused:
            if " 504 " in f" {refused} ":
                return None  # the control API's timeout: nothing came
            raise
        return entry

    def manual_clock(self) -> bool:
        return bool(self._control("GET", "/clock")["manual"])

    def advance(self, seconds: float) -> None:
        self._control("POST", "/clock/advance", {"seconds": seconds})

    def complete(self, task_id: str) -> None:
        self._control("POST", f"/tasks/{task_id}/complete")

    def fail(self, task_id: str, code: str, message: str | None = None) -> None:
        self._control("POST", f"/tasks/{task_id}/fail", {"code": code, "message": message})

    def is_gateway(self, method: str, path: str) -> bool:
        """Whether the fake plays the x402 gateway (``serve --x402``): a paid call with
        neither a token nor a payment is asked to pay (402), whatever its body."""
        answer = self.session.request(method, self.url + path, json={}, timeout=30)
        return answer.status_code == 402

    def refuse_payments(self, reason: str, count: int) -> None:
        """The gateway refuses the next ``count`` payments with ``reason``."""
        self._control("POST", "/x402/refusals", {"reason": reason, "count": count})

    def payments(self) -> list[dict[str, Any]]:
        """The gateway's record of every payment since the last reset."""
        found = self._control("GET", "/x402/payments")
        return list(found["payments"] if isinstance(found, dict) else found)

    def close(self) -> None:
        self.session.close()

    def api(self, path: str, body: dict[str, Any], token: str) -> dict[str, Any]:
        """A request of the suite's own (to make something to work on): 2xx or it raises."""
        answer = self.session.post(
            self.url + path,
            json=body,
            headers={"authorization": f"Bearer {token}", "x-luma-mock-scenario": SETUP_SCENARIO},
            timeout=30,
        )
        if not 200 <= answer.status_code < 300:
            raise ControlError(f"POST {path}: {answer.status_code} {answer.text}")
        return dict(answer.json())


class LiveFake(ServedFake):
    """``luma-mock serve`` in its own process on a free loopback port: a manual clock
    (nothing moves unless the suite says so), instant tasks, a fixed seed."""

    def __init__(self, *extra: str) -> None:
        super().__init__(
            serve_command("--clock", "manual", "--delay", "instant", "--seed", "7", *extra)
        )
