"""No secret on disk: tokens become stable aliases (`<token-1>`) and account ids stable
pseudonyms (`account-1`) before a line is written.

`RedactionRules` says where secrets sit — header names, JSON body keys and query
parameters that hold tokens, body keys that hold account ids — with defaults for both
dialects, extended or replaced by a TOML file:

    defaults = true                      # false: only what this file lists
    [tokens]
    headers = ["x-goog-api-key"]
    body_keys = ["session_secret"]
    query = ["sig"]
    [accounts]
    body_keys = ["org_id"]

A `Redactor` applies them and remembers every raw value it replaced: once a secret is
known, it is also replaced wherever else it shows up in a string (a URL, a text body, an
echoed request), and the scan (`scan`) looks for all of them in what was written.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote_plus

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the 3.10 backport
    import tomli as tomllib

TOKEN_HEADERS = ("authorization", "proxy-authorization", "x-api-key", "api-key", "x-auth-token")
TOKEN_KEYS = (
    "token",
    "api_key",
    "apikey",
    "api_token",
    "access_token",
    "refresh_token",
    "secret",
    "client_secret",
    "password",
)
TOKEN_QUERY = ("token", "api_key", "apikey", "access_token", "key")
ACCOUNT_KEYS = ("user_id", "api_id", "application_id", "account_id", "credential_id")

# A value this short is aliased where its rule finds it, but never searched for
# elsewhere: replacing "42" in every string would mangle the cassette.
MIN_SEARCHABLE = 6

_ALIAS = re.compile(r"^(<token-\d+>|account-\d+)$")


def is_alias(value: str) -> bool:
    """Whether ``value`` is an alias this module writes in a secret's place."""
    return bool(_ALIAS.match(value))


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


@dataclass(frozen=True)
class RedactionRules:
    """Where tokens and account ids sit (names compared case-insensitively, `-` as `_`
    for body keys); ``source``: ``default`` or the rules file's path (the header says)."""

    token_headers: frozenset[str] = frozenset(TOKEN_HEADERS)
    token_keys: frozenset[str] = frozenset(TOKEN_KEYS)
    token_query: frozenset[str] = frozenset(TOKEN_QUERY)
    account_keys: frozenset[str] = frozenset(ACCOUNT_KEYS)
    source: str = "default"

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RedactionRules:
        """Rules from a TOML file (see the module doc); ValueError naming a bad key."""
        with open(path, "rb") as file:
            try:
                data = tomllib.load(file)
            except tomllib.TOMLDecodeError as bad:
                raise ValueError(f"{path}: {bad}") from None
        unknown = set(data) - {"defaults", "tokens", "accounts"}
        if unknown:
            raise ValueError(f"{path}: unknown key(s) {sorted(unknown)}")
        keep = data.get("defaults", True)
        if not isinstance(keep, bool):
            raise ValueError(f"{path}: defaults must be true or false")
        base = cls() if keep else cls(frozenset(), frozenset(), frozenset(), frozenset())

        def names(table: str, key: str, allowed: Iterable[str]) -> frozenset[str]:
            section = data.get(table, {})
            if not isinstance(section, dict) or set(section) - set(allowed):
                raise ValueError(f"{path}: [{table}] takes only {sorted(allowed)}")
            values = section.get(key, [])
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise ValueError(f"{path}: {table}.{key} must be a list of strings")
            return frozenset(_key(v) if key == "body_keys" else v.lower() for v in values)

        token_fields = ("headers", "body_keys", "query")
        return cls(
            token_headers=base.token_headers | names("tokens", "headers", token_fields),
            token_keys=base.token_keys | names("tokens", "body_keys", token_fields),
            token_query=base.token_query | names("tokens", "query", token_fields),
            account_keys=base.account_keys | names("accounts", "body_keys", ("body_keys",)),
            source=str(path),
        )


@dataclass
class Redactor:
    """Applies `RedactionRules`; the same raw value always gets the same alias. Safe to
    share between the proxy's threads."""

    rules: RedactionRules = field(default_factory=RedactionRules)
    _aliases: dict[str, str] = field(default_factory=dict, repr=False)
    _tokens: int = 0
    _accounts: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # -- what it has seen ------------------------------------------------------------------

    @property
    def secrets(self) -> dict[str, str]:
        """Every raw value replaced so far, and its alias (for the scan)."""
        with self._lock:
            return dict(self._aliases)

    @property
    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"tokens": self._tokens, "accounts": self._accounts}

    def token(self, raw: str) -> str:
        """The alias of a token (learnt now if new)."""
        return self._alias(raw, "token")

    def account(self, raw: str) -> str:
        """The pseudonym of an account id (learnt now if new)."""
        return self._alias(raw, "account")

    def _alias(self, raw: str, kind: str) -> str:
        if not raw or _ALIAS.match(raw):
            return raw  # empty, or already an alias: nothing to hide
        with self._lock:
            alias = self._aliases.get(raw)
            if alias is None:
                if kind == "token":
                    self._tokens += 1
                    alias = f"<token-{self._tokens}>"
                else:
                    self._accounts += 1
                    alias = f"account-{self._accounts}"
                self._aliases[raw] = alias
            return alias

    def text(self, value: str) -> str:
        """``value`` with every known secret (long enough to search for) replaced."""
        with self._lock:
            known = sorted(
                (s for s in self._aliases if len(s) >= MIN_SEARCHABLE), key=len, reverse=True
            )
            for raw in known:
                if raw in value:
                    value = value.replace(raw, self._aliases[raw])
                encoded = quote(raw, safe="")
                if encoded != raw and encoded in value:
                    value = value.replace(encoded, self._aliases[raw])
        return value

    # -- the places secrets sit ------------------------------------------------------------

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Lowercase names; a token header's credential aliased (its scheme kept)."""
        learnt = {}
        for name, value in headers.items():
            name = name.lower()
            if name in self.rules.token_headers and value.strip():
                scheme, _, credential = value.strip().partition(" ")
                if credential.strip():
                    value = f"{scheme} {self.token(credential.strip())}"
                else:
                    value = self.token(scheme)
            learnt[name] = value
        return {name: self.text(value) for name, value in learnt.items()}

    def query(self, query: str | None) -> str | None:
        """A raw query string, token parameters' values aliased, the rest as it was."""
        if not query:
            return query
        parts = []
        for pair in query.split("&"):
            name, eq, value = pair.partition("=")
            if eq and unquote_plus(name).lower() in self.rules.token_query and value:
                pair = f"{name}={quote(self.token(unquote_plus(value)), safe='')}"
            parts.append(pair)
        return self.text("&".join(parts))

    def url(self, url: str) -> str:
        """A URL with its query's tokens aliased and any known secret replaced."""
        base, question, query = url.partition("?")
        if not question:
            return self.text(url)
        query, hash_, fragment = query.partition("#")
        return self.text(base) + "?" + (self.query(query) or "") + hash_ + fragment

    def json(self, value: Any) -> Any:
        """A JSON value with token and account keys replaced (recursively), then every
        string searched for known secrets (URLs by their query too)."""
        self._learn(value)
        return self._apply(value)

    def _learn(self, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                name = _key(str(key))
                if name in self.rules.token_keys and isinstance(item, str):
                    self.token(item)
                elif name in self.rules.account_keys and isinstance(item, (str, int)):
                    if not isinstance(item, bool):
                        self.account(str(item))
                else:
                    self._learn(item)
        elif isinstance(value, list):
            for item in value:
                self._learn(item)
        elif isinstance(value, str) and "?" in value and "://" in value:
            self.url(value)  # learns the tokens in its query

    def _apply(self, value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                name = _key(str(key))
                if name in self.rules.token_keys and isinstance(item, str):
                    out[key] = self.token(item)
                elif (
                    name in self.rules.account_keys
                    and isinstance(item, (str, int))
                    and not isinstance(item, bool)
                ):
                    out[key] = self.account(str(item))
                else:
                    out[key] = self._apply(item)
            return out
        if isinstance(value, list):
            return [self._apply(item) for item in value]
        if isinstance(value, str):
            return self.url(value) if "://" in value else self.text(value)
        return value

    def body(self, body: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """A cassette BODY: JSON redacted by key, text searched for known secrets; base64
        is left exactly as it came (the scan reports a secret inside it)."""
        if body is None:
            return None
        out = dict(body)
        if "json" in out:
            out["json"] = self.json(out["json"])
        elif "text" in out:
            out["text"] = self.text(out["text"])
        return out
