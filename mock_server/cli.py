"""``luma-mock``: serve the fake, check a server or a client against the contract, proxy
real traffic through the contract, or print the contract's OpenAPI document."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

# The registry of dialects (stdlib only, and no dialect's code until a pack is loaded):
# which APIs a process serves, and which `--dialect` may name.
from contract_tests.contract.packs import default_pack, names, packs


def _version() -> str:
    """The installed distribution's version (its metadata, from pyproject.toml)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("luma-mock")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="luma-mock", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the fake Luma API server")
    serve.add_argument("--config", help="TOML config file (or LUMA_MOCK_CONFIG)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000; 0 picks a free one)")
    serve.add_argument("--delay", help="seconds per task, or a preset: instant, default, realistic")
    serve.add_argument("--clock", choices=["real", "manual"], help="default real")
    serve.add_argument(
        "--token", action="append", dest="tokens", help="accept only this token (repeatable)"
    )
    serve.add_argument("--public-url", help="base of the media URLs handed out")
    serve.add_argument("--callback-retries", type=int, help="retries after a failed callback")
    serve.add_argument(
        "--callback-allow", action="append", help="allowed callback host pattern (repeatable)"
    )
    serve.add_argument("--max-tasks", type=int, help="tasks kept before the oldest go")
    serve.add_argument("--seed", type=int, help="seed for ids and delays (reproducible runs)")
    serve.add_argument("--log-format", choices=["text", "json"], help="default text")
    serve.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="default info (one line per request); warning keeps only problems",
    )
    serve.add_argument(
        "--control-token", help="require this token on /__admin/ (needed beyond loopback)"
    )
    serve.add_argument("--credits", type=float, help="each token's starting credit balance")
    serve.add_argument("--rate-limit", help="per-token limit REQUESTS/SECONDS, e.g. 10/60")
    serve.add_argument(
        "--store", help="memory (default) or redis://HOST:PORT/DB: one fake across processes"
    )
    serve.add_argument("--workers", type=int, help="server processes (needs a shared store)")
    serve.add_argument(
        "--request-timeout", type=float, help="seconds a request may take to arrive (60; 0: off)"
    )
    serve.add_argument(
        "--idle-timeout", type=float, help="seconds an idle connection is kept (75; 0: off)"
    )
    serve.add_argument(
        "--max-connections", type=int, help="connections open at once (10000; 0: no cap)"
    )
    serve.add_argument(
        "--grace", type=float, help="seconds a stop waits for held calls and callbacks (2)"
    )
    serve.add_argument(
        "--x402",
        action="store_const",
        const=True,
        help="be the pay-per-call gateway too: paid calls without a token get a 402 challenge "
        "and are served for a valid x402 payment (needs luma-mock[x402])",
    )
    serve.add_argument(
        "--x402-price", help="USDC a paid call costs (default 0.50, the fake's own choice)"
    )
    serve.add_argument(
        "--x402-balance",
        help="USDC each new payer starts with (default unlimited; 0 refuses every payer)",
    )

    dialects, home = names(), default_pack().name
    openapi = commands.add_parser("openapi", help="print the OpenAPI document of the contract")
    openapi.add_argument(
        "--dialect",
        choices=dialects,
        default=home,
        help=f"whose document (a registered dialect; default {home})",
    )

    from contract_tests.provider.report import add_verify_arguments  # stdlib only until it runs

    add_verify_arguments(commands.add_parser("verify", help="check a server against the contract"))

    client = commands.add_parser("verify-client", help="check a client against the contract")
    client.add_argument("factory", help="MODULE:FACTORY, factory(base_url, token) -> adapter")
    client.add_argument("--profile", choices=["ci", "dev", "thorough"], default="ci")
    client.add_argument(
        "--client-timeout", type=float, default=10.0, help="seconds the client takes to give up"
    )
    client.add_argument("--fake-url", help="use this running fake instead of starting one")
    client.add_argument("--control-token", help="the running fake's control token")
    client.add_argument("--token", default="luma-mock-consumer", help="token the client gets")
    client.add_argument("-k", "--only", help="run only the cases whose name contains this")
    client.add_argument(
        "--dialect",
        choices=dialects,
        default=home,
        help="the API the client speaks (its pack may offer built-in adapters, e.g. 'lumaai')",
    )
    client.add_argument(
        "--billing-risk",
        choices=["fail", "warn"],
        default="fail",
        help="a blind retry that may pay twice: fails the run (default), or is reported only",
    )

    proxy = commands.add_parser("proxy", help="forward to a target, checking every exchange")
    proxy.add_argument(
        "--target", help="base URL to forward to (default: the --dialect's real service)"
    )
    proxy.add_argument(
        "--dialect",
        choices=dialects,
        help="the API the traffic speaks (which schemas, which calls are billable); "
        "default: each request's, by its path prefix",
    )
    proxy.add_argument("--host", default="127.0.0.1", help="address to listen on")
    proxy.add_argument("--port", type=int, default=8010, help="port (0 picks a free one)")
    proxy.add_argument(
        "--max-billable",
        type=int,
        help="forward at most N billable calls (generate/extend; creates)",
    )
    proxy.add_argument("--record", help="append every exchange to this JSON-lines file")
    return parser


def _dialects() -> list[Any]:
    """The dialects a process serves: every registered pack's fake half
    (`engine.dialect.Dialect` objects), in the registry's order."""
    return [pack.load_fake() for pack in packs()]


def _serve(args: argparse.Namespace, argv: list[str]) -> int:
    # Patch before anything that uses sockets or threads is imported: held synchronous
    # requests and callback deliveries then become cheap greenlets (a `--workers`
    # supervisor runs on gevent too: its waits are on pipes, signals and events).
    from gevent import monkey

    monkey.patch_all()

    dialects = _dialects()  # loaded first: they register the error codes the settings check
    from .engine.config import load
    from .engine.fake import Fake
    from .web.logs import configure_logging
    from .web.server import serve
    from .web.workers import WORKER_FD

    worker = WORKER_FD in os.environ

    cli: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "delay": args.delay,
        "clock": args.clock,
        "tokens": args.tokens,
        "public_url": args.public_url,
        "callback_retries": args.callback_retries,
        "callback_allow": args.callback_allow,
        "max_tasks": args.max_tasks,
        "seed": args.seed,
        "log_format": args.log_format,
        "log_level": args.log_level,
        "control_token": args.control_token,
        "credits": args.credits,
        "rate_limit": args.rate_limit,
        "store": args.store,
        "workers": args.workers,
        "request_timeout": args.request_timeout,
        "idle_timeout": args.idle_timeout,
        "max_connections": args.max_connections,
        "grace": args.grace,
        "x402": args.x402,
        "x402_price": args.x402_price,
        "x402_balance": args.x402_balance,
    }
    try:
        settings = load(cli, config=args.config)
    except (ValueError, OSError) as bad:
        print(f"luma-mock: {bad}", file=sys.stderr)
        return 2
    if settings.x402 and (missing := _x402_missing()):
        print(f"luma-mock: --x402 needs eth-account and solders ({missing}):", file=sys.stderr)
        print("luma-mock: pip install 'luma-mock[x402]'", file=sys.stderr)
        return 2
    if worker:  # one of a supervisor's workers: a full server, on the socket it was given
        settings = settings.with_values({"workers": 1})
    elif settings.workers > 1:
        return _supervise(settings, argv)
    try:
        # Made here, not by the server: the rules' endpoints are checked against the
        # dialect's only now, and a bad one is a configuration error like the others.
        # Every dialect, as equals, on one clock, journal and set of accounts (see
        # mock_server.engine.fake for why an engine per dialect).
        fake = Fake(dialects, settings)
    except (ValueError, OSError) as bad:
        print(f"luma-mock: {bad}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, level=settings.log_level)
    return serve(fake)


def _x402_missing() -> str | None:
    """What of the x402 extra cannot be imported (it is installed by need), or None."""
    try:
        import eth_account  # noqa: F401 - the gateway verifies EVM payments with it
        import solders  # noqa: F401 - and Solana ones with this
    except ImportError as missing:
        return str(missing)
    return None


def _supervise(settings: Any, argv: list[str]) -> int:
    """``--workers N`` (N > 1, on a shared store): the supervisor of N workers."""
    from .engine.dialect import answering
    from .engine.shared import Shared
    from .web.server import banner
    from .web.workers import Supervisor

    try:
        Shared.ping(settings.store)  # refused at start, as one process would be
        supervisor = Supervisor(
            [sys.executable, "-m", "mock_server.cli", *argv],
            settings.host,
            settings.port,
            settings.workers,
        )
    except OSError as bad:
        print(f"luma-mock: {bad}", file=sys.stderr)
        return 2

    def announce(url: str) -> str:
        shown = banner(url, settings, answering(_dialects(), "/").banner_example(url))
        return f"{shown}\n  workers: {settings.workers} on one port, store {settings.store}"

    return supervisor.run(announce)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args, list(sys.argv[1:] if argv is None else argv))
    if args.command == "verify":
        from contract_tests.provider.report import run_verify

        return run_verify(args)
    if args.command == "verify-client":
        from contract_tests import consumer

        return consumer.main(args)
    if args.command == "proxy":
        from contract_tests.consumer import proxy

        return proxy.main(args)
    if args.command == "openapi":
        dialects = {dialect.name: dialect for dialect in _dialects()}
        try:
            json.dump(dialects[args.dialect].openapi(), sys.stdout, indent=2, ensure_ascii=False)
            print(flush=True)
        except BrokenPipeError:  # `luma-mock openapi | head`: the reader left early
            sys.stdout = None  # type: ignore[assignment]  # nothing left to flush at exit
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
