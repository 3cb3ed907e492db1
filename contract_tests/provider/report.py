"""What a verification shows at the end: each failure with the check's name, what was
expected, what came, a ``curl`` line that reproduces it (the token shown as
``$LUMA_TOKEN``) and Hypothesis' reproduction note; then a table of checks and the
billable budget (`render`). `add_verify_arguments` and `run_verify` are ``luma-mock
verify``: this module imports only the standard library until `run_verify` runs, since
``luma-mock serve`` builds its argument parser before gevent patches.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from .progress import TOKEN_VAR

# The operations every dialect shares (`checks.CALLBACK`, `checks.WAIT`), named here so
# that the parser of ``luma-mock serve`` costs no import of the checks.
CALLBACK, WAIT = "callback", "wait"

if TYPE_CHECKING:  # imported lazily: `luma-mock serve` builds its parser before gevent patches
    from ..checks import Case, CheckFailure
    from .outcome import Verification

SECRET_MIN = 8  # shorter "tokens" (test ones) would be replaced inside ordinary words
SHOWN_HEADERS = ("content-type", "x-luma-mock-scenario")


def _quote_bytes(data: bytes) -> str:
    """Shell-quote a body: plain single quotes when it is printable UTF-8, else bash's
    $'…' with \\x escapes (invalid UTF-8 must reach the server byte for byte)."""
    try:
        text = data.decode("utf-8")
        if text.isprintable() or all(c.isprintable() or c in "\n\t" for c in text):
            return shlex.quote(text)
    except UnicodeDecodeError:
        pass
    escaped = "".join(
        chr(b) if 32 <= b < 127 and chr(b) not in "\\'" else f"\\x{b:02x}" for b in data
    )
    return f"$'{escaped}'"


def curl_line(
    case: Case, base_url: str, token: str = "", headers: Mapping[str, str] | None = None
) -> str:
    """A curl command that sends ``case`` again; the token is never printed."""
    url = case.path if "://" in case.path else base_url.rstrip("/") + case.path
    parts = ["curl", "-sS", "-X", case.method, shlex.quote(url)]
    if case.auth == "valid":
        parts += ["-H", f'"authorization: Bearer {TOKEN_VAR}"']
    elif case.auth == "wrong":
        parts += ["-H", shlex.quote("authorization: Bearer wrong-token-for-luma-mock-verify")]
    elif case.auth == "malformed":
        parts += ["-H", shlex.quote("authorization: Basic bHVtYTptb2Nr")]
    payload = case.payload()
    sent = {k.lower(): v for k, v in (headers or {}).items()}
    if payload is not None:
        sent.setdefault("content-type", "application/json")
    sent.update({k.lower(): v for k, v in case.headers.items()})
    for name in SHOWN_HEADERS:
        if name in sent:
            parts += ["-H", shlex.quote(f"{name}: {sent[name]}")]
    if payload is not None:
        parts += ["--data-binary", _quote_bytes(payload)]
    return _redact(" ".join(parts), token)


def _redact(text: str, token: str) -> str:
    """The token never printed, should a server echo it back."""
    return text.replace(token, TOKEN_VAR) if len(token) >= SECRET_MIN else text


def _reproduction(notes: str) -> list[str]:
    """Of Hypothesis' notes, the lines that say how to get the example back (the
    falsifying example itself is what the case and the curl line show)."""
    wanted = [n.strip() for n in notes.splitlines() if "reproduce_failure" in n or "seed" in n]
    return [
        n[n.index("@reproduce_failure") :].split(" as a decorator")[0]
        if "@reproduce_failure" in n
        else n
        for n in wanted
    ]


def format_failure(
    failure: CheckFailure, base_url: str, token: str = "", number: int | None = None
) -> str:
    head = f"{number}. " if number is not None else ""
    lines = [f"{head}[{failure.check}] {failure.title}"]
    if failure.case is not None and failure.case.label:
        lines.append(f"   case:     {failure.case.label}")
    if failure.expected:
        lines.append(f"   expected: {failure.expected}")
    if failure.actual:
        lines.append(f"   actual:   {failure.actual}")
    case = failure.case
    if case is not None and case.path:
        shown = {CALLBACK: "the request that asked for it", WAIT: "the last poll"}
        lines.append(f"   {shown.get(case.operation, 'reproduce')}: "
                     f"{curl_line(case, base_url, token)}")  # fmt: skip
    for note in _reproduction(failure.reproduce):
        lines.append(f"   hypothesis: {note}")
    return _redact("\n".join(lines), token)


def summary_table(result: Verification) -> str:
    from ..checks import REGISTRY

    failed: dict[str, int] = {}
    for failure in result.failures:
        failed[failure.check] = failed.get(failure.check, 0) + 1
    names = [n for n in REGISTRY if n in result.runs or n in failed]
    names += sorted(n for n in failed if n not in REGISTRY)
    width = max([len(n) for n in names] + [5])
    lines = [f"{'check':<{width}}  {'runs':>6}  {'failed':>6}  result"]
    for name in names:
        bad = failed.get(name, 0)
        verdict = "FAIL" if bad else "ok"
        lines.append(f"{name:<{width}}  {result.runs.get(name, 0):>6}  {bad:>6}  {verdict}")
    return "\n".join(lines)


def render(result: Verification, base_url: str = "", token: str = "") -> str:
    """The whole report: failures first, then the table and the totals."""
    out = []
    if result.failures:
        out.append(f"{len(result.failures)} failure(s):\n")
        for number, failure in enumerate(result.failures, 1):
            out.append(format_failure(failure, base_url, token, number) + "\n")
    out.append(summary_table(result))
    out.append("")
    seed = f", seed {result.seed}" if result.seed is not None else ""
    out.append(
        f"target {result.target}: {result.examples} examples, {result.exchanges} requests "
        f"in {result.seconds:.1f} s (profile {result.profile}{seed})"
    )
    out.append(f"billable requests: {result.spent} of {result.cap}")
    out.extend(f"note: {note}" for note in result.notes)
    passed = sum(1 for n in result.runs if n not in {f.check for f in result.failures})
    checks = len(set(result.runs) | {f.check for f in result.failures})
    verdict = "all checks hold" if result.ok else f"{len(result.failures)} failure(s)"
    out.append(f"{passed} of {checks} checks passed: {verdict}")
    return "\n".join(out)


# -- luma-mock verify ------------------------------------------------------------------


def add_verify_arguments(parser: Any) -> None:
    """The options of ``luma-mock verify`` (an argparse parser); the dialects and their
    token variables come from the registry of packs (`contract.packs`, standard
    library only)."""
    from ..contract.packs import default_pack, packs

    tokens = "; ".join(f"{p.name}: " + " or ".join(f"${n}" for n in p.token_env) for p in packs())
    parser.add_argument(
        "--target",
        help="base URL to verify (default: the fake, in process); URL1,URL2,... sends "
        "each request to the next in turn (processes of one fake on a shared store)",
    )
    parser.add_argument("--token", help=f"bearer token (default, by dialect: {tokens})")
    parser.add_argument(
        "--max-billable",
        type=int,
        help="cap on billable requests (default 36 with a control API, else 0)",
    )
    parser.add_argument("--profile", choices=["ci", "dev", "thorough"], default="ci")
    parser.add_argument("--max-examples", type=int, help="examples per property")
    parser.add_argument("--seed", type=int, help="Hypothesis seed (profiles dev, thorough)")
    parser.add_argument("--record", metavar="FILE", help="write every exchange as JSON lines")
    parser.add_argument("--control-token", help="token of the target's /__admin/ API")
    parser.add_argument(
        "--any-token", action="store_true", help="the target takes any token: skip wrong-token"
    )
    parser.add_argument("--image-url", help="a real image for first/last-frame requests")
    parser.add_argument("--no-stateful", action="store_true", help="skip the state machine")
    parser.add_argument(
        "--x402",
        action="store_true",
        help="the target is a pay-per-call gateway: check its 402 contract (without paying)",
    )
    parser.add_argument(
        "--x402-key",
        metavar="HEX",
        help="an EVM private key to pay with (with --x402 and --max-spend; costs money on "
        "a real gateway)",
    )
    parser.add_argument(
        "--max-spend",
        metavar="USDC",
        help="the most a paid x402 run may sign for, in USDC (e.g. 1.50)",
    )
    parser.add_argument(
        "--x402-network",
        choices=["base", "skale"],
        default="base",
        help="the network a paid x402 run pays on",
    )
    parser.add_argument(
        "--dialect",
        choices=[p.name for p in packs()],
        default=default_pack().name,
        help="the API to verify: "
        + "; ".join(f"{p.name}, {p.title} ({p.path_prefix or '/'}...)" for p in packs()),
    )


def _gateway(args: Any) -> Any:
    """``--x402``'s `gateway.Gateway`, or None; ValueError for options that do not go
    together (a key without a cap, a cap that is no amount, either without --x402)."""
    key, cap = getattr(args, "x402_key", None), getattr(args, "max_spend", None)
    if not getattr(args, "x402", False):
        if key or cap:
            raise ValueError("--x402-key and --max-spend go with --x402")
        return None
    if bool(key) != (cap is not None):
        raise ValueError("a paid x402 run needs both --x402-key and --max-spend")
    from ..payments import Payer, atomic
    from .gateway import Gateway

    if key:
        try:
            Payer.from_key(key)
        except ImportError:
            needs = "a paid x402 run needs eth-account: pip install 'luma-mock[x402]'"
            raise ValueError(needs) from None
        except Exception:  # eth-account's own errors for a key that is no key
            raise ValueError("--x402-key is not an EVM private key (64 hex digits)") from None
    try:
        spend = None if cap is None else atomic(cap)
    except ValueError as bad:
        raise ValueError(f"--max-spend: {bad}") from None
    return Gateway(key, spend, getattr(args, "x402_network", "base"))


def run_verify(args: Any, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Run ``luma-mock verify``: 0 when every check holds, 1 with failures, 2 when the
    target cannot be reached or the options are wrong."""
    import os
    import sys

    from ..contract.packs import default_pack, pack
    from .dialect import provider_of
    from .suite import verify
    from .targets import Target

    out, err = out or sys.stdout, err or sys.stderr
    dialect = getattr(args, "dialect", None) or default_pack().name
    token = args.token or pack(dialect).token(os.environ) or ""
    if args.max_billable is not None and args.max_billable < 0:
        print("luma-mock verify: --max-billable must be >= 0", file=err)
        return 2
    try:
        gateway = _gateway(args)
    except ValueError as bad:
        print(f"luma-mock verify: {bad}", file=err)
        return 2
    if args.target:
        target = Target.url(
            args.target,
            token or "luma-mock-verify",
            control_token=args.control_token,
            any_token=args.any_token,
        )
        target.under(pack(dialect).path_prefix)
        reached = provider_of(dialect).reach(target.transport)
        if reached.status == 0:
            print(f"luma-mock verify: cannot reach {args.target}: {reached.text}", file=err)
            return 2
    else:  # the fake itself; with --x402, as the gateway
        target = Target.in_process(token or "verify-token", **({"x402": True} if gateway else {}))
        if gateway:
            target.hint = target.hint.replace("--clock manual", "--clock manual --x402")
    try:
        result = verify(
            target,
            max_billable=args.max_billable,
            profile=args.profile,
            max_examples=args.max_examples,
            record=args.record,
            seed=args.seed,
            stateful=not args.no_stateful,
            image_url=args.image_url,
            out=err,
            dialect=dialect,
            x402=gateway,
        )
    finally:
        target.close()
    print(render(result, target.transport.base_url, target.token), file=out)
    return 0 if result.ok else 1
