"""The layout of mock_server (issue 12): the engine loads no HTTP, dialect or contract
code, the HTTP layer meets a dialect only through the engine it serves, the harness
drives a fake without the HTTP layer's code, and each module has one path: no alias
module re-exports another under an old name (issue 21)."""

from __future__ import annotations

import importlib
import pathlib
import subprocess
import sys

import pytest


def loaded_after_importing(package: str) -> set[str]:
    """Every module a fresh interpreter holds once each module of ``package`` is imported."""
    probe = (
        "import importlib, pkgutil, sys\n"
        f"package = importlib.import_module({package!r})\n"
        "for module in pkgutil.iter_modules(package.__path__):\n"
        "    importlib.import_module(f'{package.__name__}.{module.name}')\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def offending(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))


def test_the_engine_loads_no_http_layer_dialect_or_contract() -> None:
    forbidden = (
        "flask",
        "werkzeug",
        "gevent",
        "orjson",
        "requests",
        "jsonschema",
        "jsonschema_rs",
        "hypothesis",
        "contract_tests",
        "mock_server.web",
        "mock_server.acedata",
        "mock_server.harness",
        "mock_server.cli",
    )
    # httptools is the one exception: the callback sender reads answers with it.
    assert offending(loaded_after_importing("mock_server.engine"), forbidden) == []


def test_the_http_layer_reaches_the_dialect_only_through_the_engine() -> None:
    forbidden = ("mock_server.acedata", "mock_server.harness", "contract_tests")
    assert offending(loaded_after_importing("mock_server.web"), forbidden) == []


def test_the_dialect_and_the_harness_load_no_http_layer() -> None:
    for package in ("mock_server.acedata", "mock_server.harness"):
        loaded = loaded_after_importing(package)
        assert offending(loaded, ("mock_server.web", "flask", "werkzeug", "gevent")) == []


OLD_PATHS = (
    "mock_server.app",
    "mock_server.clock",
    "mock_server.config",
    "mock_server.receiver",
    "mock_server.service",
    "contract_tests.adapters",
    "contract_tests.report",
    "contract_tests.strategies",
)


@pytest.mark.parametrize("old", OLD_PATHS)
def test_an_alias_path_does_not_import(old: str) -> None:
    """0.1.0 never had these paths; each module is importable by its real path only."""
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(old)


def test_no_module_replaces_itself_in_sys_modules() -> None:
    """An alias module is one that swaps itself for another module on import; a module
    of the packages that did would give one module two paths again."""
    root = pathlib.Path(__file__).resolve().parent.parent
    sources = [*root.glob("mock_server/**/*.py"), *root.glob("contract_tests/**/*.py")]
    assert len(sources) > 50  # the glob found the packages
    aliases = [
        str(path.relative_to(root))
        for path in sources
        if "sys.modules[__name__]" in path.read_text(encoding="utf-8")
    ]
    assert aliases == []


def test_every_module_fits_on_a_few_screens() -> None:
    """Modules stay under 400 lines (README "Layout"): past that, a module holds more
    than one idea and wants splitting."""
    root = pathlib.Path(__file__).resolve().parent.parent
    sources = [*root.glob("mock_server/**/*.py"), *root.glob("contract_tests/**/*.py")]
    assert len(sources) > 50  # the glob found the packages
    long = {
        str(path.relative_to(root)): lines
        for path in sources
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) >= 400
    }
    assert long == {}
