"""Record modes, as VCR.py users know them: a cassette replayed, recorded, or both.

- ``none``: replay only; no cassette is an error naming the command that records one
  (the default when the environment has ``CI`` set);
- ``once``: record if the cassette does not exist, else replay (the default otherwise);
- ``new``: replay what the cassette has, record what it has not — forwarded to the
  target through the recording proxy and appended to the cassette at the end;
- ``all``: record always, replacing the cassette.

A `CassetteSession` is one cassette in the mode decided, as a base URL to point a client
at: a replay server (`luma-mock replay`, in its own process, as the harness starts it), the
recording proxy (`ValidatingProxy` with a `Recorder`, in this process), or, for ``new``,
a `Fallthrough` in front of both: each request goes to the replay first, and one the
replay answers ``X-Luma-Mock-Replay: unmatched`` goes on to the recording proxy. The
pytest plugin (``luma_cassette``) and ``luma-mock replay --record-mode`` both use it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from mock_server.cassettes.append import append_cassette
from mock_server.cassettes.format import read_cassette
from mock_server.harness.process import ServedFake

from .proxy import ValidatingProxy
from .recorder import Recorder

MODES = ("none", "once", "new", "all")
CI_ENV = "CI"
UNMATCHED = ("x-luma-mock-replay", "unmatched")
# Never forwarded by the front: the connection's own, and the length (the body is re-framed).
_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
     "proxy-connection", "content-length", "host"}
)  # fmt: skip
# Nor, on an answer, its encoding: requests hands the body over decoded.
_ANSWER_DROPPED = _HOP | {"content-encoding"}


def default_mode(environ: Mapping[str, str] | None = None) -> str:
    """``none`` on CI (a missing cassette must fail, not pay), ``once`` elsewhere."""
    environ = os.environ if environ is None else environ
    return "none" if environ.get(CI_ENV) else "once"


class NoCassette(LookupError):
    """``none`` mode and no cassette: the message says how to record one."""


def decide(mode: str, exists: bool) -> str:
    """What a session does: ``replay``, ``record`` or ``new`` (replay, and record the rest)."""
    if mode not in MODES:
        raise ValueError(f"the record mode is one of {', '.join(MODES)}, not {mode!r}")
    if mode == "all" or (not exists and mode in ("once", "new")):
        return "record"
    if not exists:
        raise NoCassette("no cassette")
    return "new" if mode == "new" else "replay"


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # the servers behind log
        pass


class Fallthrough:
    """The ``new`` mode's front: the replay first, the recording proxy for what the
    replay has no recording of. ``forwarded``: how many went on to be recorded."""

    def __init__(self, replay_url: str, record_url: str, host: str = "127.0.0.1", port: int = 0):
        self.replay_url, self.record_url = replay_url.rstrip("/"), record_url.rstrip("/")
        self.forwarded = 0
        self._lock = threading.Lock()
        self._session = requests.Session()
        self._server: BaseWSGIServer = make_server(
            host, port, self, threaded=True, request_handler=_Quiet
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Fallthrough:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._session.close()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH") or ""
        body = environ["wsgi.input"].read(int(length)) if length.isdigit() else b""
        path = environ.get("PATH_INFO", "/")
        query = environ.get("QUERY_STRING")
        target = path + (f"?{query}" if query else "")
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in _HOP
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        method = environ["REQUEST_METHOD"]
        answer = self._send(method, self.replay_url + target, headers, body)
        if answer.headers.get(UNMATCHED[0], "").lower() == UNMATCHED[1]:
            with self._lock:
                self.forwarded += 1
            answer = self._send(method, self.record_url + target, headers, body)
        out = [(k, v) for k, v in answer.headers.items() if k.lower() not in _ANSWER_DROPPED]
        start_response(f"{answer.status_code} {answer.reason}", out)
        return [answer.content]

    def _send(self, method: str, url: str, headers: dict[str, str], body: bytes) -> Any:
        return self._session.request(
            method, url, headers=headers, data=body, timeout=900, allow_redirects=False
        )


def record_command(nodeid: str, target: str | None, token_env: Sequence[str]) -> str:
    """The command that records a test's cassette (for the ``none`` mode's error)."""
    command = f"python -m pytest {shlex.quote(nodeid)} --luma-record-mode=once"
    if target:
        command += f" --luma-target={shlex.quote(target)}"
    if token_env:
        command = f"{token_env[0]}=<your token> {command}"
    return command


class CassetteSession:
    """One cassette in one mode (see the module doc): ``url`` for the client, then
    `problems` (a replay's unmatched requests and recorded creates never replayed) and
    `close` (the cassette finished and scanned: the secrets found on disk)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        mode: str,
        target: str | None,
        *,
        replay_args: Sequence[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """``host`` and ``port``: where the client's server listens (the proxy, or the
        front of ``new``); a replay behind them listens on a free loopback port."""
        self.path = Path(path)
        self.host, self.port = host, port
        self.action = decide(mode, self.path.exists())
        if self.action != "replay" and not target:
            raise ValueError(f"recording {self.path} needs a target URL")
        self.target = target
        self.replay_args = list(replay_args)
        self.replay: ServedFake | None = None
        self.proxy: ValidatingProxy | None = None
        self.recorder: Recorder | None = None
        self.front: Fallthrough | None = None
        self._fresh: Path | None = None  # `new`: what was not recorded yet, recorded here

    def start(self) -> CassetteSession:
        if self.action in ("replay", "new"):
            self.replay = ServedFake.replay(self.path, *self.replay_args)
        if self.action in ("record", "new"):
            assert self.target is not None
            into = self.path
            if self.action == "new":
                folder = Path(tempfile.mkdtemp(prefix="luma-cassette-"))
                into = self._fresh = folder / self.path.name
            self.recorder = Recorder(into, self.target)
            outer = self.action == "record"
            self.proxy = ValidatingProxy(
                self.target,
                host=self.host if outer else "127.0.0.1",
                port=self.port if outer else 0,
                recorder=self.recorder,
            ).start()
        if self.replay is not None and self.proxy is not None:
            self.front = Fallthrough(self.replay.url, self.proxy.url, self.host, self.port)
            self.front.start()
        return self

    @property
    def url(self) -> str:
        for server in (self.front, self.proxy, self.replay):
            if server is not None:
                return server.url
        raise RuntimeError("the session has not started")

    def problems(self) -> list[str]:
        """What a replay says went wrong: requests it had no recording of (unless they
        were recorded, in ``new`` mode) and recorded creates this test never made."""
        if self.replay is None:
            return []
        found: list[str] = []
        progress = requests.get(f"{self.replay.url}/__admin/replay", timeout=10).json()
        if self.front is None:  # in `new`, what the replay had not was recorded
            found += [f"unmatched request: {u['message']}" for u in progress["unmatched"]]
        recorded = {e.get("seq"): e for e in read_cassette(self.path).events}
        for seq in progress["unreplayed_creates"]:
            asked = recorded.get(seq, {}).get("request", {})
            found.append(
                f"recorded create never replayed: {asked.get('method')} {asked.get('path')} "
                f"(seq {seq})"
            )
        return found

    def close(self) -> list[str]:
        """Stop everything; the recording's secret-scan hits (and, for ``new``, append
        what was recorded to the cassette — unless the scan found a secret in it: then
        it is left where it was recorded, named in the hits, for a look)."""
        hits: list[str] = []
        if self.front is not None:
            self.front.stop()
        if self.proxy is not None:
            self.proxy.stop()
        if self.recorder is not None:
            hits = [str(hit) for hit in self.recorder.close()]
        if self.replay is not None:
            self.replay.stop()
        if self._fresh is not None and not hits:
            append_cassette(self.path, self._fresh)
            shutil.rmtree(self._fresh.parent, ignore_errors=True)
        return hits


# -- luma-mock replay FILE --record-mode MODE --target URL (arguments in mock_server.cli) --


def _replay_args(args: argparse.Namespace) -> list[str]:
    """The replay's own flags, passed on to the replay behind ``new``'s front."""
    passed = ["--speed", str(args.speed)]
    for flag, value in (("--clock", args.clock), ("--log-level", args.log_level)):
        if value is not None:
            passed += [flag, value]
    for field in args.match_ignore:
        passed += ["--match-ignore", field]
    return passed


def main(args: argparse.Namespace) -> int:
    """A recording (``once`` with no cassette, ``all``) or ``new``: serve until SIGTERM or
    Ctrl-C, then finish the cassette. Exit 3 if its scan found a secret on disk (then
    ``new`` appends nothing), 2 on bad arguments."""
    if not args.target:
        print(f"luma-mock replay: --record-mode {args.record_mode} needs --target URL "
              f"to record {args.cassette} from", file=sys.stderr)  # fmt: skip
        return 2
    try:
        session = CassetteSession(
            args.cassette,
            args.record_mode,
            args.target,
            replay_args=_replay_args(args),
            host=args.host or "127.0.0.1",
            port=8000 if args.port is None else args.port,
        ).start()
    except (ValueError, OSError, RuntimeError) as bad:
        print(f"luma-mock replay: {bad}", file=sys.stderr)
        return 2
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    doing = {"record": "recording", "new": "replaying, and recording what it lacks,"}
    # Four lines, as serve's banner: the harness (`ServedFake`) reads the first.
    print(f"luma-mock listening on {session.url}", flush=True)
    print(f"  record mode {args.record_mode}: {doing[session.action]} {session.path}")
    print(f"  target {session.target}")
    print("  stop with Ctrl-C (or SIGTERM): the cassette is finished and scanned", flush=True)
    while not stopping.wait(0.5):  # a timed wait keeps the main thread able to take signals
        pass
    hits = session.close()
    for hit in hits:
        print(f"luma-mock replay: secret on disk: {hit}", file=sys.stderr, flush=True)
    return 3 if hits else 0
