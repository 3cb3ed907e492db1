"""The reference pages, written from the code at every build — never by hand: the CLI
from its argument parsers, the config file's keys from `Settings`, the control API from
its OpenAPI document (which a test holds to the routes), the pytest plugin's fixtures,
marker keys and options from the plugin module.

Each function returns a page's Markdown. One that cannot find what it documents raises,
so a rename in the code fails the strict build instead of leaving a stale page.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import io
import re
import tokenize
from dataclasses import MISSING, fields
from typing import Any

GENERATED = (
    "<!-- Generated from the code by tools/docs/reference.py at every build: "
    "edit the code, not this page. -->\n\n"
)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _code(text: Any) -> str:
    return f"`{text}`" if text not in (None, "") else ""


# -- the CLI ------------------------------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _help_of(parser: argparse.ArgumentParser) -> dict[str, str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {choice.dest: choice.help or "" for choice in action._choices_actions}
    return {}


def _arguments_table(parser: argparse.ArgumentParser) -> str:
    rows = ["| argument | default | choices | what it does |", "|---|---|---|---|"]
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        names = ", ".join(action.option_strings) or action.dest
        if isinstance(action, argparse._AppendAction):
            names += " (repeatable)"
        default = action.default if action.default not in (None, argparse.SUPPRESS) else ""
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            default = ""
        choices = ", ".join(map(str, action.choices)) if action.choices else ""
        rows.append(
            f"| {_code(_cell(names))} | {_code(_cell(default))} | {_cell(choices)} "
            f"| {_cell(action.help or '')} |"
        )
    return "\n".join(rows) + "\n"


def cli_page() -> str:
    from mock_server import cli

    parser = cli._parser()
    commands = _subcommands(parser)
    if not commands:
        raise RuntimeError("luma-mock's parser has no subcommands: tools/docs/reference.py")
    helps = _help_of(parser)
    out = [
        "# The CLI: `luma-mock`\n\n",
        GENERATED,
        f"{parser.description}\n\n",
        "```text\n" + parser.format_usage() + "```\n\n",
        _arguments_table(parser),
        "\n",
    ]
    for name, sub in commands.items():
        out += [
            f"## `luma-mock {name}`\n\n",
            f"{helps.get(name, '')}\n\n",
            "```text\n" + sub.format_usage().replace("usage: ", "") + "```\n\n",
            _arguments_table(sub),
            "\n",
        ]
    return "".join(out)


# -- the config file ------------------------------------------------------------------------


def _field_comments(cls: type) -> dict[str, str]:
    """A dataclass field's comment in its source: on its line, or the lines just above."""
    source = inspect.getsource(cls)
    trailing: dict[int, str] = {}
    standalone: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            alone = token.line.strip().startswith("#")
            (standalone if alone else trailing)[token.start[0]] = token.string.lstrip("# ")
    found: dict[str, str] = {}
    for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            line = node.lineno
            above: list[str] = []
            while line - 1 - len(above) in standalone:
                above.insert(0, standalone[line - 1 - len(above)])
            text = trailing.get(line) or " ".join(above)
            if text:
                found[node.target.id] = text
    return found


# What no flag's help and no comment in `Settings` says; a key with none of the three
# fails the build, so a new setting cannot go undocumented.
MORE_WORDS = {
    "delays": "a preset (instant, default, realistic), seconds, or a table: "
    "`[luma-mock.delay]` with `preset`, `queue`, `generate`, `extend`, each seconds "
    "or `{kind = fixed|uniform|lognormal, …}`",
    "callback_backoff": "seconds before the first retry of a callback; doubles each time, "
    "at most 60",
    "callback_timeout": "seconds one callback attempt may take",
    "max_body_bytes": "largest request body; past it 413 request_too_large",
    "default_timeout": "seconds a synchronous call is held when its body names no timeout",
    "journal_limit": "journal entries kept; past it the oldest go",
    "scenarios": "`[[luma-mock.scenarios]]` tables: rules the fake starts (and resets) with",
    "x402_prices": "`[luma-mock.x402_prices]`: USDC per action (`generate`, `extend`), "
    "over `x402_price`",
}


def _flag_words(action: argparse.Action) -> str:
    words = action.help or ""
    if action.choices:
        words = f"one of {', '.join(map(str, action.choices))}; {words}".rstrip("; ")
    return words


def _config_key(name: str) -> str:
    return "delay" if name == "delays" else name


def config_page() -> str:
    from mock_server import cli
    from mock_server.engine import config

    serve = _subcommands(cli._parser())["serve"]
    flags = {
        action.dest: (action.option_strings[0], _flag_words(action))
        for action in serve._actions
        if action.option_strings
    }
    flags["delays"] = flags.get("delay", ("", ""))
    comments = _field_comments(config.Settings)
    rows = ["| key | default | flag | environment | what it is |", "|---|---|---|---|---|"]
    for field in fields(config.Settings):
        flag, flag_help = flags.get(field.name, ("", ""))
        words = MORE_WORDS.get(field.name) or flag_help or comments.get(field.name)
        if not words:
            raise RuntimeError(
                f"setting {field.name!r} has no words: give its flag a help, its field a "
                f"comment, or add it to MORE_WORDS in tools/docs/reference.py"
            )
        default = field.default
        if default is MISSING:
            default = field.default_factory()  # type: ignore[misc]
        if field.name == "delays":
            default = "default"
        shown = "" if default in (None, (), {}) else default
        env = config.ENV_PREFIX + _config_key(field.name).upper()
        rows.append(
            f"| `{_config_key(field.name)}` | {_code(_cell(shown))} | {_code(flag)} "
            f"| `{env}` | {_cell(words)} |"
        )
    return "".join(
        [
            "# The config file\n\n",
            GENERATED,
            f"{(config.__doc__ or '').strip()}\n\n",
            "A TOML file (`--config FILE`, or `LUMA_MOCK_CONFIG`) whose `[luma-mock]` table "
            "(or the whole file) holds any of these keys. Flags beat environment variables, "
            "which beat the file, which beats the defaults. An unknown key is refused at "
            "start.\n\n",
            "\n".join(rows),
            "\n",
        ]
    )


# -- the control API ---------------------------------------------------------------------------


def _schema_words(schema: dict[str, Any]) -> str:
    props = schema.get("properties", {})
    required = set(schema.get("required", ()))
    return ", ".join(f"`{k}`" + (" (required)" if k in required else "") for k in props)


def _braces_as_code(text: str) -> str:
    """``{now, manual}`` as code: bare braces would be read as an attribute list."""
    return re.sub(r"(\{[^}]*\})", r"`\1`", text)


def control_page() -> str:
    from mock_server.web.control_document import document

    doc = document()
    out = [
        "# The control API\n\n",
        GENERATED,
        f"{doc['info']['description']}\n\n",
        "The whole of it is an OpenAPI 3.1 document served by the fake at "
        "`GET /__admin/openapi.json`: generate a client from it in any language. A "
        "test holds it to the routes the fake serves. Errors are the API's error "
        "envelope: 400 for a bad body, 401 without the control token, 404 for what is not "
        "there, 504 `timeout` when a wait runs out.\n\n",
        "| call | what it does | body | query |\n|---|---|---|---|\n",
    ]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            query = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
            out.append(
                f"| `{method.upper()} {path}` | {_braces_as_code(_cell(op['summary']))} "
                f"| {_schema_words(body.get('schema', {}))} "
                f"| {', '.join(f'`{q}`' for q in query)} |\n"
            )
    return "".join(out)


# -- the pytest plugin -------------------------------------------------------------------------


def plugin_page() -> str:
    from _pytest.config.argparsing import Parser

    import contract_tests.plugin as plugin

    fixtures = [
        value
        for value in vars(plugin).values()
        if type(value).__name__ == "FixtureFunctionDefinition"
    ]
    if not fixtures:
        raise RuntimeError("no fixtures found in contract_tests.plugin")
    out = ["# The pytest plugin\n\n", GENERATED, (plugin.__doc__ or "").strip(), "\n\n"]
    out.append("## Fixtures\n\n| fixture | scope | what it is |\n|---|---|---|\n")
    for fixture in fixtures:
        scope = fixture._fixture_function_marker.scope
        doc = inspect.cleandoc(fixture._get_wrapped_function().__doc__ or "")
        out.append(f"| `{fixture.name}` | {scope} | {_cell(doc)} |\n")
    out.append("\n## Marker keys: `@pytest.mark.luma(...)`\n\n")
    out.append("| key | taken |\n|---|---|\n")
    for key in plugin.PER_TEST_KEYS:
        out.append(f"| `{key}` | per test, through the control API |\n")
    for key in plugin.STARTUP_KEYS:
        out.append(f"| `{key}` | at start: one server per distinct set of these |\n")
    parser = Parser(_ispytest=True)
    plugin.pytest_addoption(parser)
    out.append("\n## Options\n\n| option | what it does |\n|---|---|\n")
    for group in parser._groups:
        for option in group.options:
            names = ", ".join(option.names())
            out.append(f"| `{names}` | {_cell(option.attrs().get('help', ''))} |\n")
    return "".join(out)


PAGES = {
    "reference/cli.md": cli_page,
    "reference/config.md": config_page,
    "reference/control-api.md": control_page,
    "reference/pytest-plugin.md": plugin_page,
}
