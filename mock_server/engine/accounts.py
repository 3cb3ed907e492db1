"""Per-token credit balances and rate limits, on the fake's clock."""

from __future__ import annotations

import math
import threading
from collections import deque

from .clock import Clock
from .errors import ApiError


def parse_rate_limit(spec: str | None) -> tuple[int, float] | None:
    """``"10/60"``: at most 10 requests per token in any 60 seconds."""
    if spec in (None, "", "off"):
        return None
    try:
        count, _, per = str(spec).partition("/")
        limit = (int(count), float(per or 1))
    except ValueError:
        raise ValueError(f"a rate limit is REQUESTS/SECONDS such as 10/60, not {spec!r}") from None
    if limit[0] < 1 or limit[1] <= 0:
        raise ValueError(f"a rate limit needs at least 1 request per positive seconds: {spec!r}")
    return limit


class PaidToken(str):
    """The token of a call paid per call (``--x402``): the payment pays for its task, so it
    spends no credits (the token, given or not, still owns the task and is rate-limited)."""

    __slots__ = ()


class Accounts:
    """What each token may still do: credits that each task created spends, and a
    sliding-window request rate. Tokens with no balance set start with ``credits``
    (None: unlimited)."""

    def __init__(
        self,
        clock: Clock,
        *,
        credits: float | None = None,
        video_cost: float = 1.0,
        rate_limit: tuple[int, float] | None = None,
    ) -> None:
        self.clock = clock
        self.default_credits = credits
        self.video_cost = video_cost
        self.rate_limit = rate_limit
        self._balances: dict[str, float | None] = {}
        self._recent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def set_balance(self, token: str, credits: float | None) -> None:
        with self._lock:
            self._balances[token] = credits

    def balance(self, token: str) -> float | None:
        with self._lock:
            return self._balances.get(token, self.default_credits)

    def balances(self) -> dict[str, float | None]:
        with self._lock:
            return dict(self._balances)

    def spend(self, token: str) -> float:
        """Charge one task (``video_cost``: the name the setting has always had), or 403
        ``used_up`` when the balance cannot cover it; the credits spent (0: unlimited)."""
        if self.default_credits is None and not self._balances:
            return 0.0  # unlimited for everyone (the default): nothing to count
        if isinstance(token, PaidToken):
            return 0.0
        with self._lock:
            credits = self._balances.get(token, self.default_credits)
            if credits is None:
                return 0.0
            if credits < self.video_cost:
                raise ApiError("used_up")
            self._balances[token] = credits - self.video_cost
            return self.video_cost

    def refund(self, token: str, credits: float) -> None:
        """Give back what a task spent (an API that refunds a failed generation)."""
        with self._lock:
            balance = self._balances.get(token, self.default_credits)
            if balance is not None:
                self._balances[token] = balance + credits

    def set_rate_limit(self, limit: tuple[int, float] | None) -> None:
        with self._lock:
            self.rate_limit = limit
            self._recent.clear()

    def admit(self, token: str) -> None:
        """Count one request, or 429 ``too_many_requests`` with ``Retry-After``."""
        if self.rate_limit is None:  # no limit (the default): nothing to count
            return
        with self._lock:
            if self.rate_limit is None:
                return
            count, per = self.rate_limit
            now = self.clock.now()
            if len(self._recent) > 1024:  # any token is accepted: forget the idle ones
                self._forget_idle(now - per)
            recent = self._recent.setdefault(token, deque())
            while recent and recent[0] <= now - per:
                recent.popleft()
            if len(recent) >= count:
                wait = max(1, math.ceil(recent[0] + per - now))
                raise ApiError("too_many_requests", headers={"Retry-After": str(wait)})
            recent.append(now)

    def _forget_idle(self, horizon: float) -> None:
        idle = [t for t, recent in self._recent.items() if not recent or recent[-1] <= horizon]
        for token in idle:
            del self._recent[token]

    def clear(self) -> None:
        with self._lock:
            self._balances.clear()
            self._recent.clear()
