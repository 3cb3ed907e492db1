"""Adapters: how the consumer suite drives a client it knows nothing about.

The user writes a factory ``factory(base_url, token)`` that returns an object with the
methods of the dialect's operations (each dialect's ``consumer`` module lists them and
says what each does; a built-in adapter may be named instead of a factory, as
``lumaai``). Each method makes the real calls through the user's own client and returns
what the client returns, or raises. A method the adapter does not have skips the cases
that need it; an optional ``close()`` is called when the suite is done.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable
from typing import Any

from .dialect import AdapterFactory


def operations(adapter: Any, known: Iterable[str]) -> tuple[str, ...]:
    """The operations of ``known`` that an adapter offers, in that order."""
    return tuple(name for name in known if callable(getattr(adapter, name, None)))


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
    return factory  # type: ignore[no-any-return]


def describe_call(operation: str, args: tuple[Any, ...], fields: dict[str, Any]) -> str:
    """``adapter.generate(prompt='a cat', **{'async': True})`` — how a call reads in a
    report. Keyword names that are not identifiers (``async``) are shown as ``**{...}``."""
    plain = [repr(a) for a in args]
    plain += [f"{k}={v!r}" for k, v in fields.items() if k.isidentifier() and k != "async"]
    odd = {k: v for k, v in fields.items() if not k.isidentifier() or k == "async"}
    if odd:
        plain.append(f"**{odd!r}")
    return f"adapter.{operation}({', '.join(plain)})"


def close_adapter(adapter: Any) -> None:
    """Call the adapter's ``close()``, if it has one."""
    close = getattr(adapter, "close", None)
    if callable(close):
        close()
