"""The fake's settings, from (lowest to highest) defaults, a TOML config file,
``LUMA_MOCK_*`` environment variables and command-line flags."""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .accounts import parse_rate_limit
from .delays import PRESETS, DelayModel, parse_delays
from .payments import usdc_units
from .scenarios import Scenarios

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


# Where payments go by default: the provider's own EVM address (seen in its live runs),
# and on Solana an address of the fake's own (the provider's is not known; documented).
X402_PAY_TO = "0x4F0E2D3477a1B94CF33d16E442CEe4733dadCeE7"
X402_PAY_TO_SOLANA = "F8Qdadh9utmicyxmQmuhMnk1gKdyzKstUEFE62PvQDK8"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None  # base of media URLs; default: the URL the client used
    delays: DelayModel = field(default_factory=lambda: PRESETS["default"])
    clock: str = "real"  # or "manual"
    tokens: tuple[str, ...] = ()  # empty: any non-empty bearer token is accepted
    callback_retries: int = 3
    callback_backoff: float = 1.0
    callback_timeout: float = 10.0
    callback_allow: tuple[str, ...] = ()
    max_tasks: int = 10_000
    max_body_bytes: int = 1_048_576
    default_timeout: float = 300.0
    log_format: str = "text"  # or "json"
    log_level: str = "info"  # "warning" drops the line per request (cheaper under load)
    seed: int | None = None
    credits: float | None = None  # each token's starting balance; None: unlimited
    video_cost: float = 1.0  # credits a generate or extend spends
    rate_limit: str | None = None  # "REQUESTS/SECONDS" per token, e.g. "10/60"
    journal_limit: int = 10_000
    control_token: str | None = None  # required by /__admin/ when set
    scenarios: tuple[dict[str, Any], ...] = ()  # rules the fake starts (and resets) with
    store: str = "memory"  # or redis://HOST:PORT/DB: one fake across processes
    workers: int = 1  # server processes on one port (needs a shared store)
    # The server's limits (`mock_server.web.limits`); 0 turns a timeout or the cap off.
    request_timeout: float = 60.0  # a request's head and body, from its first byte
    idle_timeout: float = 75.0  # a connection between requests
    max_connections: int = 10_000  # open at once, per process
    grace: float = 2.0  # seconds SIGTERM waits for held calls and callbacks under way
    # A dialect's own callback policy, changed: {"dream-machine": {"retries": 0}}.
    dialect_callbacks: dict[str, dict[str, float]] = field(default_factory=dict)
    # The pay-per-call gateway (``--x402``, `mock_server.x402`); amounts are USDC decimals.
    x402: bool = False
    x402_price: str = "0.50"  # the fake's own choice: the provider's Luma price is unpublished
    x402_prices: dict[str, str] = field(default_factory=dict)  # per action: {"extend": "0.75"}
    x402_balance: str | None = None  # each new payer's; None: unlimited, "0": all refused
    x402_pay_to: str = X402_PAY_TO  # the EVM address paid (Base, SKALE): the provider's
    x402_pay_to_solana: str = X402_PAY_TO_SOLANA  # the Solana address paid: the fake's own

    def __post_init__(self) -> None:
        if self.clock not in ("real", "manual"):
            raise ValueError(f"clock must be real or manual, not {self.clock!r}")
        if self.log_level not in ("debug", "info", "warning", "error"):
            raise ValueError(
                f"log level must be debug, info, warning or error, not {self.log_level!r}"
            )
        if self.log_format not in ("text", "json"):
            raise ValueError(f"log format must be text or json, not {self.log_format!r}")
        if self.callback_retries < 0 or self.max_tasks < 1 or self.max_body_bytes < 1:
            raise ValueError("callback_retries, max_tasks and max_body_bytes must be positive")
        if min(self.request_timeout, self.idle_timeout, self.max_connections, self.grace) < 0:
            raise ValueError("request_timeout, idle_timeout, max_connections, grace: >= 0")
        if self.journal_limit < 1:
            raise ValueError("journal_limit must be positive")
        parse_rate_limit(self.rate_limit)
        _check_x402(self)
        _check_store(self.store, self.workers)
        scenarios = Scenarios()
        for rule in self.scenarios:  # refuse a bad rule at start, not at the first request
            scenarios.add(rule)

    def with_values(self, values: dict[str, Any]) -> Settings:
        """A copy with ``values`` (names as in the config file) parsed and applied."""
        known = {f.name for f in fields(self)}
        parsed: dict[str, Any] = {}
        for name, value in values.items():
            key = "delays" if name == "delay" else name.replace("-", "_")
            if key not in known:
                raise ValueError(f"unknown setting {name!r}")
            parsed[key] = _parse(key, value)
        return replace(self, **parsed)


def _parse(key: str, value: Any) -> Any:
    if key == "delays":
        return value if isinstance(value, DelayModel) else parse_delays(value)
    if key in ("tokens", "callback_allow"):
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        return tuple(str(v) for v in value)
    if key in (
        "port",
        "callback_retries",
        "max_tasks",
        "max_body_bytes",
        "journal_limit",
        "workers",
        "max_connections",
    ):
        return int(value)
    if key == "seed":
        return None if value in (None, "") else int(value)
    if key == "credits":
        return None if value in (None, "") else float(value)
    if key in (
        "callback_backoff",
        "callback_timeout",
        "default_timeout",
        "video_cost",
        "request_timeout",
        "idle_timeout",
        "grace",
    ):
        return float(value)
    if key == "x402":
        return _truth(key, value)
    if key in ("x402_price", "x402_pay_to", "x402_pay_to_solana"):
        return str(value)
    if key == "x402_balance":
        return None if value in (None, "", "unlimited") else str(value)
    if key == "x402_prices":
        value = json.loads(value) if isinstance(value, str) else value
        if not isinstance(value, dict):
            raise ValueError("x402_prices is a table: action -> USDC price")
        return {str(action): str(price) for action, price in value.items()}
    if key == "dialect_callbacks":
        return _dialect_callbacks(json.loads(value) if isinstance(value, str) else value)
    if key == "scenarios":
        if isinstance(value, str):
            value = json.loads(value)
        return tuple(dict(rule) for rule in value)
    return value


def _check_x402(settings: Settings) -> None:
    """Prices and the starting balance are USDC amounts; a price is above 0."""
    prices = {"x402_price": settings.x402_price}
    prices.update({f"x402_prices.{a}": p for a, p in settings.x402_prices.items()})
    for name, price in prices.items():
        if usdc_units(price, name) <= 0:
            raise ValueError(f"{name} must be above 0 USDC, not {price!r}")
    if settings.x402_balance is not None:
        usdc_units(settings.x402_balance, "x402_balance")
    if not _SOLANA_ADDRESS.fullmatch(settings.x402_pay_to_solana):
        raise ValueError(
            "x402_pay_to_solana must be a Solana address (base58, 32 to 44 characters), "
            f"not {settings.x402_pay_to_solana!r}"
        )


# A Solana address as the protocol's reference checks it (its SVM_ADDRESS_REGEX).
_SOLANA_ADDRESS = re.compile(r"[1-9A-HJ-NP-Za-km-z]{32,44}")


def _truth(key: str, value: Any) -> bool:
    """A switch from TOML (a boolean) or the environment (1/0, true/false, yes/no, on/off)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{key} is true or false, not {value!r}")


STORE_SCHEMES = ("redis", "rediss", "unix")


def _check_store(store: str, workers: int) -> None:
    if store != "memory" and urlsplit(store).scheme not in STORE_SCHEMES:
        raise ValueError(f"store is memory or a Redis URL (redis://HOST:PORT/DB), not {store!r}")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if workers > 1 and store == "memory":
        raise ValueError(
            "--workers above 1 needs a shared store: with the in-memory store each worker "
            "would keep its own tasks, clock and journal, so a task made through one worker "
            "would be a 404 through the next. Give --store redis://HOST:PORT/DB (or "
            "LUMA_MOCK_STORE), or run one worker."
        )


_POLICY_KEYS = ("retries", "backoff", "timeout")


def _dialect_callbacks(value: Any) -> dict[str, dict[str, float]]:
    """``{dialect name: {retries, backoff, timeout}}``, each a number >= 0."""
    if not isinstance(value, dict):
        raise ValueError("dialect_callbacks is a table: dialect name -> retries, backoff, timeout")
    policies: dict[str, dict[str, float]] = {}
    for dialect, policy in value.items():
        if not isinstance(policy, dict) or set(policy) - set(_POLICY_KEYS):
            raise ValueError(f"dialect_callbacks.{dialect} takes {', '.join(_POLICY_KEYS)}")
        for key, number in policy.items():
            if isinstance(number, bool) or not isinstance(number, (int, float)) or number < 0:
                raise ValueError(f"dialect_callbacks.{dialect}.{key} is a number >= 0")
        policies[str(dialect)] = dict(policy)
    return policies


def from_file(path: str | Path) -> dict[str, Any]:
    """The ``[luma-mock]`` table of a TOML file (or the whole file if it has none)."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return data.get("luma-mock", data)


ENV_PREFIX = "LUMA_MOCK_"


def from_env(environ: dict[str, str] | None = None) -> dict[str, Any]:
    environ = dict(os.environ if environ is None else environ)
    known = {f.name for f in fields(Settings)} | {"delay"}
    values = {}
    for name, value in environ.items():
        key = name[len(ENV_PREFIX) :].lower()
        # Other LUMA_MOCK_* variables belong to other parts (the pytest plugin's
        # LUMA_MOCK_TARGET, LUMA_MOCK_CONFIG): not the server's business.
        if name.startswith(ENV_PREFIX) and key in known:
            values[key] = value
    return values


def load(
    cli: dict[str, Any] | None = None,
    *,
    config: str | Path | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    env = from_env(environ)
    config = config or (environ if environ is not None else os.environ).get(ENV_PREFIX + "CONFIG")
    settings = Settings()
    if config:
        settings = settings.with_values(from_file(config))
    settings = settings.with_values(env)
    return settings.with_values({k: v for k, v in (cli or {}).items() if v is not None})
