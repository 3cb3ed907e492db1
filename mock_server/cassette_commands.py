"""The commands of recorded sessions, for `mock_server.cli`: the proxy's recording flags
(``proxy --cassette``), ``luma-mock replay FILE`` and the ``luma-mock cassette`` tools.
Apart from the rest of the command line because they are one feature (record and
replay, ``docs/record-and-replay.md``); each import is made when its command runs."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any


def add_cassette_commands(commands: Any, proxy: argparse.ArgumentParser) -> None:
    """The recording flags on ``proxy``; ``cassette`` and ``replay`` among ``commands``."""
    proxy.add_argument(
        "--cassette",
        help="record the session (exchanges, callbacks, media) into this cassette file",
    )
    proxy.add_argument(
        "--redact",
        metavar="RULES.toml",
        help="redaction rules: the headers, body keys and query parameters that hold "
        "tokens, the keys that hold account ids (default: the built-in rules)",
    )
    proxy.add_argument(
        "--media-cap",
        type=int,
        metavar="BYTES",
        help="largest media file downloaded into the cassette's folder (default 200 MB)",
    )
    proxy.add_argument(
        "--public-url",
        help="the proxy's URL as the provider reaches it, for its callbacks "
        "(default: the proxy's own address)",
    )

    # One group for the cassette tools; each tool is one subparser here.
    cassette = commands.add_parser("cassette", help="tools for recorded cassettes")
    tools = cassette.add_subparsers(dest="cassette_command", required=True)
    check = tools.add_parser("check", help="validate a cassette against its JSON Schema")
    check.add_argument("file", help="the cassette (JSON Lines)")
    scenarios = tools.add_parser(
        "scenarios", help="turn a cassette into a serve --config of scenario rules"
    )
    scenarios.add_argument("file", help="the cassette (JSON Lines)")
    scenarios.add_argument("-o", "--output", help="write the TOML here (default: stdout)")

    replay = commands.add_parser(
        "replay", help="serve a recorded cassette as the provider, the target never contacted"
    )
    replay.add_argument("cassette", metavar="FILE", help="the cassette (JSON lines) to replay")
    replay.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    replay.add_argument("--port", type=int, help="port (default 8000; 0 picks a free one)")
    replay.add_argument(
        "--speed", type=float, default=1.0, help="scale recorded times (2: twice as fast)"
    )
    replay.add_argument(
        "--clock", choices=["real", "manual"], help="default real; manual: /__admin/clock/advance"
    )
    replay.add_argument(
        "--match-ignore",
        action="append",
        default=[],
        metavar="FIELD",
        help="also ignore this when matching: a dotted body path, query:NAME or header:NAME "
        "(repeatable)",
    )
    replay.add_argument(
        "--control-token", help="require this token on /__admin/ (needed beyond loopback)"
    )
    replay.add_argument("--public-url", help="base of the media URLs handed out")
    replay.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="default info (one line per request); warning keeps only problems",
    )
    replay.add_argument(
        "--record-mode",
        choices=["none", "once", "new", "all"],
        default="none",
        help="none: replay only (default); once: record FILE from --target if it does not "
        "exist; new: replay, and record what FILE has not into it; all: record, replacing it",
    )
    replay.add_argument("--target", help="the service a recording forwards to (record modes)")


def replay(args: argparse.Namespace, dialects: Callable[[], list[Any]]) -> int:
    """``luma-mock replay FILE``: serve's banner and control API, the cassette's answers."""
    if args.record_mode != "none":  # a recording (or part of one): before gevent patches
        from contract_tests.consumer import record_modes

        if record_modes.decide(args.record_mode, os.path.exists(args.cassette)) != "replay":
            return record_modes.main(args)
    from gevent import monkey

    monkey.patch_all()  # held answers wait as greenlets (see `_serve`)

    served = dialects()
    from .engine.config import load
    from .engine.fake import Fake
    from .replay import Player
    from .replay.loading import open_cassette
    from .web.logs import configure_logging
    from .web.server import serve

    cli = {
        "host": args.host,
        "port": args.port,
        "clock": args.clock,
        "control_token": args.control_token,
        "public_url": args.public_url,
        "log_level": args.log_level,
    }
    try:
        settings = load(cli)
        cassette = open_cassette(args.cassette)
        fake = Fake(served, settings)
        player = Player(fake, cassette, speed=args.speed, ignore=args.match_ignore)
    except (ValueError, OSError) as bad:
        print(f"luma-mock: {bad}", file=sys.stderr)
        return 2
    for warning in cassette.warnings:
        print(f"luma-mock: warning: {args.cassette}: {warning}", file=sys.stderr, flush=True)
    configure_logging(settings.log_format, level=settings.log_level)
    return serve(fake, replay=player)


def cassette(args: argparse.Namespace, dialects: Callable[[], list[Any]]) -> int:
    """``luma-mock cassette check|scenarios FILE``."""
    if args.cassette_command == "check":
        from .cassettes import check

        return check.main(args.file)
    if args.cassette_command == "scenarios":
        dialects()  # their error codes: a refusal keeps the provider's documented code
        from .cassettes.scenarios import convert

        try:
            toml = convert(args.file)
        except (ValueError, OSError) as bad:
            print(f"luma-mock: {bad}", file=sys.stderr)
            return 2
        if args.output:
            with open(args.output, "w", encoding="utf-8") as out:
                out.write(toml)
        else:
            sys.stdout.write(toml)
        return 0
    return 2
