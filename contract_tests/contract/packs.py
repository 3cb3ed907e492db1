"""The registry of dialects: every API the product speaks is one `Pack`, found through
the entry-point group ``luma_mock.dialects``, the built-in ones exactly as a dialect added
from outside the package.

A pack is a small declaration: its name, where its contract lives (its own folders of
schemas, labelled examples and media), where its endpoints sit under a base URL, which of
its calls may cost money, the real service and the environment variables that hold a
token for it — and, by import path, its two halves: the fake's (``fake``, an object
implementing `mock_server.engine.dialect.Dialect`) and the suites' (``suite``, a package
whose modules the provider and consumer suites load by name). Both halves load on first
use, so reading the registry costs an entry-point scan, never a dialect's code.

Everything that serves or checks an API — ``serve``, ``verify``, ``verify-client``,
``proxy``, the plugin, the journal, the dashboard, the reports — asks this module and
never names a dialect. Packs are in name order: no dialect is the first by hand.

    [project.entry-points."luma_mock.dialects"]
    acedata = "contract_tests.acedata:PACK"

It imports the standard library only: the schema loader (`schema`) sits above it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module, metadata
from pathlib import Path
from typing import Any

GROUP = "luma_mock.dialects"
_PARAM = re.compile(r"\{[^/}]+\}")
_PACKAGE = Path(__file__).resolve().parent.parent  # contract_tests/


def data_dir(name: str) -> Path:
    """The product's ``schemas/`` or ``fixtures/``: inside the installed wheel the build
    puts them in ``contract_tests/`` (pyproject's force-include); in a checkout they sit
    at the repository's top level, beside ``contract_tests/``."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the contract's {name}/ folder is missing next to {_PACKAGE}")


def contract_folders(folder: str) -> dict[str, Path]:
    """A built-in pack's folders, each named ``folder`` under the product's ``schemas/``,
    ``fixtures/examples/`` and ``fixtures/media/``."""
    fixtures = data_dir("fixtures")
    return {
        "schemas": data_dir("schemas") / folder,
        "examples": fixtures / "examples" / folder,
        "media": fixtures / "media" / folder,
    }


@dataclass(frozen=True)
class Pack:
    """One API, as everything else finds it (see the module's docstring).

    ``schemas``, ``examples`` and ``media``: its folders; its schemas are named
    ``<name>/<file stem>``. ``path_prefix``: where its endpoints sit under a service's
    base URL (``/dream-machine/v1``; empty for an API served at the root).
    ``billable``: ``METHOD /path`` templates (``{id}`` for one segment) under that prefix
    whose call may start a paid generation. ``token_env``: environment variables that
    may hold a token for the real service, the first found wins. ``fake``:
    ``module:attribute`` of the fake's half; ``suite``: the package of the suites' half.
    ``x402``: its billable calls may be paid per call (x402) when the fake is so started.
    """

    name: str
    title: str
    schemas: Path
    examples: Path
    media: Path
    path_prefix: str
    error_schema: str  # the stem of its error body's schema
    billable: tuple[str, ...]
    real_service: str
    token_env: tuple[str, ...]
    fake: str
    suite: str
    # Whether ``serve --x402`` puts the pay-per-call gateway in front of its `billable`
    # calls (the provider sells this API per call in USDC; `mock_server.x402`).
    x402: bool = False
    _billable: tuple[tuple[str, re.Pattern[str]], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if "/" in self.name or not self.name:
            raise ValueError(f"a dialect's name is one path segment, not {self.name!r}")
        rules = []
        for rule in self.billable:
            method, _, template = rule.partition(" ")
            segments = template.strip("/").split("/")
            pattern = "".join(
                "/" + ("[^/]+" if _PARAM.fullmatch(s) else re.escape(s)) for s in segments
            )
            rules.append((method.upper(), re.compile(pattern + "/?")))
        object.__setattr__(self, "_billable", tuple(rules))

    def schema(self, stem: str) -> str:
        """The registered name of one of its schemas (``dream-machine/generation``)."""
        return f"{self.name}/{stem}"

    @property
    def error(self) -> str:
        return self.schema(self.error_schema)

    def route(self, path: str) -> str:
        """``path`` (without a query) under the pack's prefix: the SDKs' own mocks
        serve at the root, so a path without the prefix is taken as it is."""
        if self.path_prefix and path.startswith(self.path_prefix):
            return path[len(self.path_prefix) :] or "/"
        return path

    def is_billable(self, method: str, path: str) -> bool:
        """Whether a call may start a paid generation (the prefix may be there or not)."""
        route, method = self.route(path.split("?", 1)[0]), method.upper()
        return any(m == method and p.fullmatch(route) for m, p in self._billable)

    def owns(self, path: str) -> bool:
        """Whether ``path`` is under this pack's prefix (never, for an API at the root)."""
        prefix = self.path_prefix
        return bool(prefix) and (path == prefix or path.startswith(prefix + "/"))

    def load_fake(self) -> Any:
        """The fake's half: its `Dialect` object."""
        module, _, attribute = self.fake.partition(":")
        return getattr(import_module(module), attribute)

    def load(self, part: str) -> Any:
        """A module of the suites' half (``strategies``, ``checks``, ``provider``,
        ``consumer``), imported on first use."""
        return import_module(f"{self.suite}.{part}")

    def token(self, environ: Any) -> str | None:
        """A token for the real service from ``environ``, if one of `token_env` is set."""
        return next((environ[n] for n in self.token_env if environ.get(n)), None)


class UnknownDialect(ValueError):
    """No pack of that name is registered."""


@cache
def packs() -> tuple[Pack, ...]:
    """Every registered pack, by name."""
    found: dict[str, Pack] = {}
    for entry in metadata.entry_points(group=GROUP):
        pack = entry.load()
        if not isinstance(pack, Pack):
            raise TypeError(f"entry point {entry.name} = {entry.value} is not a Pack")
        if pack.name in found and found[pack.name] != pack:
            raise ValueError(f"two dialects are called {pack.name!r}")
        found[pack.name] = pack
    if not found:
        raise LookupError(
            f"no dialect is registered in the entry-point group {GROUP!r}: "
            "install the project (pip install -e .) so its entry points exist"
        )
    return tuple(found[name] for name in sorted(found))


def names() -> tuple[str, ...]:
    return tuple(p.name for p in packs())


def pack(name: str) -> Pack:
    """The pack called ``name``; `UnknownDialect` naming the known ones otherwise."""
    for candidate in packs():
        if candidate.name == name:
            return candidate
    raise UnknownDialect(f"unknown dialect {name!r}; known: {', '.join(names())}")


def pack_of_schema(name: str) -> tuple[Pack, str]:
    """The pack a schema name (``<pack>/<stem>``) belongs to, and the stem."""
    owner, slash, stem = name.partition("/")
    if not slash or not stem:
        raise KeyError(f"a schema is named <dialect>/<name>, not {name!r}")
    try:
        return pack(owner), stem
    except UnknownDialect as unknown:
        raise KeyError(str(unknown)) from None


def pack_for_path(path: str) -> Pack | None:
    """The pack whose prefix ``path`` is under, if any."""
    return next((p for p in packs() if p.owns(path)), None)


def default_pack() -> Pack:
    """The pack that answers what no prefix claims: the one served at the root (if
    several are, the first by name)."""
    rooted = [p for p in packs() if not p.path_prefix]
    return (rooted or list(packs()))[0]
