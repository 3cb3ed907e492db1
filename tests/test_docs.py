"""The docs site builds strictly: a warning, a broken link, an unknown anchor, or a
reference generator that no longer matches the code fails the test command, as it fails
``python3 dev.py docs``."""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def build(site: Path, config: Path = ROOT / "mkdocs.yml") -> subprocess.CompletedProcess[str]:
    command = ["mkdocs", "build", "--strict", "--site-dir", str(site), "--config-file", str(config)]
    return subprocess.run(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )


def test_the_docs_build_strictly(tmp_path: Path) -> None:
    built = build(tmp_path / "site")
    assert built.returncode == 0, built.stderr[-4000:]
    assert (tmp_path / "site" / "index.html").exists()


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    """The strictness is real: the same site with one more page, linking nowhere, fails
    (built from a copy, so a build running beside this test never sees the page)."""
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs)
    (docs / "probe.md").write_text("# Probe\n\n[nowhere](no-such-page.md)\n", encoding="utf-8")
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    config = config.replace("docs_dir: docs", f"docs_dir: {docs}")
    config = config.replace("  - tools/docs/", f"  - {ROOT}/tools/docs/")
    config = config.replace("paths: [.]", f"paths: [{ROOT}]")
    (tmp_path / "mkdocs.yml").write_text(config, encoding="utf-8")
    built = build(tmp_path / "site", tmp_path / "mkdocs.yml")
    assert built.returncode != 0
    assert "no-such-page.md" in built.stderr


def generators() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reference", ROOT / "tools/docs/reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_has_every_subcommand_and_flag() -> None:
    from mock_server import cli

    page = generators().cli_page()
    parser = cli._parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, sub in commands.choices.items():
        assert f"## `luma-mock {name}`" in page
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue  # every subcommand has -h; the page says the rest
            for flag in action.option_strings:
                assert f"`{flag}" in page or f", {flag}" in page, (name, flag)
            if isinstance(action, argparse._SubParsersAction):  # a group: each tool has its own
                for tool in action.choices:
                    assert f"### `luma-mock {name} {tool}`" in page, (name, tool)


def test_the_config_reference_has_every_setting_with_its_variable() -> None:
    from mock_server.engine.config import Settings

    page = generators().config_page()
    for field in fields(Settings):
        key = "delay" if field.name == "delays" else field.name
        assert f"| `{key}` |" in page and f"`LUMA_MOCK_{key.upper()}`" in page, key


def test_the_plugin_reference_has_every_fixture_marker_key_and_option() -> None:
    import contract_tests.plugin as plugin

    page = generators().plugin_page()
    for name in ("luma_fake", "luma_server", "luma_clock", "luma_responses", "luma_cassette"):
        assert f"| `{name}` |" in page
    for key in (*plugin.PER_TEST_KEYS, *plugin.STARTUP_KEYS, *plugin.CASSETTE_KEYS):
        assert f"| `{key}` |" in page
    options = ("--luma-target", "--luma-token", "--luma-max-billable", "--luma-store")
    for option in (*options, "--luma-record-mode"):
        assert f"`{option}`" in page
