"""The provider suite: drive any server that claims to be the Luma API and check every
answer against the contract.

A `Target` is a base URL and a token (the fake over a socket, someone else's server, a
real service) or a WSGI app called in process (`Target.in_process` builds the fake).
Both sit behind `Transport`, one method wide, which the pytest plugin can reuse.
`verify` runs one dialect's phases — cheap ones first (auth, invalid and malformed
input, unknown ids), then billable ones (its flows, then its state machine) — and
returns a `Verification` for `report`.

Nothing here names a dialect: each is a pack in the registry (`contract.packs`), and
what the suite asks of one is its ``provider`` module (`dialect.ProviderDialect`: its
plans, its machine, how a task is read) and its ``answers`` module (the checks).

The parts, each importing only parts after it: `report` (the report, and ``luma-mock
verify``), `suite` (`verify`), `stateful` (the state machine's shared rules), `plans`
(the phases as Hypothesis properties), `runner` (the `Provider` that sends, checks and
keeps the budget), `dialect` (`ProviderDialect`, `provider_of`), `waits` (bringing a
task to its end, every poll checked, each wait bounded), `targets` (transports and
targets), `progress` (the progress line and the ``--record`` file), `outcome`
(`Verification`, `Budget`).

It may import the standard library, Hypothesis, `requests`, `contract_tests.contract`,
`contract_tests.checks` and — inside `targets` and `runner` only — the fake
(`mock_server`); never the consumer suite or the plugin.

The public names are importable from here, ``from contract_tests.provider import
Target, verify`` and the rest, but loaded on first use: ``luma-mock serve`` imports
`report` for its argument parser before gevent patches, which must cost no import of
Hypothesis, `requests` or the fake.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what __getattr__ hands out, for type checkers and readers
    from .dialect import ProviderDialect, provider_of
    from .outcome import Budget, BudgetSpent, Verification
    from .plans import Plan, shared_out
    from .progress import Recorder
    from .runner import ANSWER_TIMEOUT, INSTANT, SCENARIO_HEADER, SILENCE_LIMIT, Provider
    from .suite import REAL_SERVICE, iter_exchanges, verify
    from .targets import LOOPBACK, HttpTransport, Target, Transport, WsgiTransport
    from .waits import FAKE_TIME_LIMIT

# Where each public name lives (the same names as the block above).
_HOMES = {
    "outcome": ("Budget", "BudgetSpent", "Verification"),
    "dialect": ("ProviderDialect", "provider_of"),
    "plans": ("Plan", "shared_out"),
    "progress": ("Recorder",),
    "runner": ("ANSWER_TIMEOUT", "INSTANT", "SCENARIO_HEADER", "SILENCE_LIMIT", "Provider"),
    "suite": ("REAL_SERVICE", "iter_exchanges", "verify"),
    "targets": ("LOOPBACK", "HttpTransport", "Target", "Transport", "WsgiTransport"),
    "waits": ("FAKE_TIME_LIMIT",),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "ANSWER_TIMEOUT",
    "FAKE_TIME_LIMIT",
    "INSTANT",
    "LOOPBACK",
    "REAL_SERVICE",
    "SCENARIO_HEADER",
    "SILENCE_LIMIT",
    "Budget",
    "BudgetSpent",
    "HttpTransport",
    "Plan",
    "Provider",
    "ProviderDialect",
    "Recorder",
    "Target",
    "Transport",
    "Verification",
    "WsgiTransport",
    "iter_exchanges",
    "provider_of",
    "shared_out",
    "verify",
]


def __getattr__(name: str) -> Any:
    # Only the public names load a part: a submodule's name (the import system asks for
    # the attribute first) and the probes of pytest and inspect fall through.
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
