"""The recording half of the proxy (`luma-mock proxy --cassette FILE`): every exchange,
callback and media file of a session with the real provider, written as it happens to
a cassette (`mock_server.cassettes`, format version 1), tokens and account ids aliased
before anything reaches the disk.

The proxy hands each exchange over as the client saw it: the client's own request (its
own ``callback_url``) and the answer it got. What the provider saw differs in one place:
`outgoing` swaps a create's ``callback_url`` for the relay's receiver
(`callbacks_relay`), and `incoming` puts the client's URL back wherever the provider
echoes it. A finished task's media are fetched once (`media_fetch`). At `close` the
cassette and its media are scanned for every secret seen (`mock_server.cassettes.scan`).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from mock_server.cassettes.format import DECODABLE_ENCODINGS, CassetteWriter, encode_body
from mock_server.cassettes.redaction import RedactionRules, Redactor
from mock_server.cassettes.scan import Hit, scan

from ..contract.packs import Pack
from .callbacks_relay import PREFIX, CallbackRelay
from .dialect import recording_of
from .media_fetch import DEFAULT_CAP, MediaFetcher

# What the recorder asks the target for: only encodings it can decode.
ACCEPT_ENCODING = ", ".join(DECODABLE_ENCODINGS)
REQUEST_HEADERS = frozenset(
    {"content-type", "accept", "accept-encoding", "authorization", "user-agent"}
)
RESPONSE_HEADERS = frozenset(
    {
        "content-type",
        "content-encoding",
        "retry-after",
        "payment-required",
        "payment-response",
        "location",
    }
)


def kept(headers: Mapping[str, str], names: frozenset[str]) -> dict[str, str]:
    """The headers that matter (the format's list, and every ``x-*``), names lowercase."""
    return {
        k.lower(): v for k, v in headers.items() if k.lower() in names or k.lower().startswith("x-")
    }


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _tool() -> str:
    try:
        return f"luma-mock {metadata.version('luma-mock')}"
    except metadata.PackageNotFoundError:
        return "luma-mock"


class Recorder:
    """Writes one cassette for a `ValidatingProxy` (see the module doc). ``base``: the
    URL the provider reaches the proxy at (its ``--public-url``, or its own)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        target: str,
        *,
        rules: RedactionRules | None = None,
        media_cap: int = DEFAULT_CAP,
        base: str | None = None,
    ) -> None:
        self.redactor = Redactor(rules or RedactionRules())
        self.writer = CassetteWriter(
            path, target=target, tool=_tool(), rules=self.redactor.rules.source
        )
        self.base = base
        self._started = time.monotonic()
        self.media = MediaFetcher(self.writer.media, self._append, self.clock, media_cap)
        self.relay = CallbackRelay(
            base=lambda: self.base or "",
            record=self._append,
            clock=self.clock,
            redact_headers=lambda h: self.redactor.headers(kept(h, REQUEST_HEADERS)),
            redact_body=self.redactor.body,
            redact_url=self.redactor.url,
            delivered=self._fetch_media,
        )

    @property
    def path(self) -> Path:
        return self.writer.path

    def clock(self) -> float:
        """Seconds since the recording started (monotonic)."""
        return time.monotonic() - self._started

    def _append(self, line: dict[str, Any]) -> None:
        """A media or callback line, its failure's message searched for known secrets: a
        connection error names the URL it tried, query string and all."""
        for note in ("skipped", "error"):
            if isinstance(line.get(note), str):
                line[note] = self.redactor.text(line[note])
        self.writer.append(line)

    # -- around the forwarding ----------------------------------------------------------

    def is_callback(self, path: str) -> bool:
        return path.startswith(PREFIX)

    def callback(
        self, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """A delivery from the provider to the relay's receiver."""
        return self.relay.deliver(path[len(PREFIX) :], headers, raw)

    def outgoing(self, speaks: Pack, method: str, path: str, raw: bytes) -> bytes:
        """The request body the provider gets: the client's callback URL swapped for a
        receiver of the relay's (the rest byte for byte when there is none)."""
        key = recording_of(speaks.name).callback_key(method, path)
        body = _json(raw) if key else None
        if not isinstance(body, dict) or not isinstance(body.get(key), str) or not body[key]:
            return raw
        body[key] = self.relay.receiver_for(body[key], speaks.name)
        return json.dumps(body, ensure_ascii=False).encode()

    def incoming(self, content: bytes) -> bytes:
        """The answer the client gets: its own callback URL wherever the provider echoed
        the receiver's."""
        return self.relay.echo(content)

    # -- the lines ------------------------------------------------------------------------

    def exchange(
        self,
        speaks: Pack,
        *,
        method: str,
        path: str,
        query: str,
        request_headers: Mapping[str, str],
        request: bytes,
        status: int,
        response_headers: Mapping[str, str],
        content: bytes,
        at: float,
        duration: float,
        own: bool,
    ) -> None:
        """One exchange as the client saw it (``content`` already decoded)."""
        rules = recording_of(speaks.name)
        answer = _json(content)
        task, state = (None, None)
        if not own:
            task, state = rules.task_of(method, path, _json(request), status, answer)
        role = "create" if speaks.is_billable(method, path) else "poll" if task else "other"
        back = kept(response_headers, RESPONSE_HEADERS)
        encoding = back.get("content-encoding", "").strip().lower()
        body = encode_body(content, back.get("content-type"))
        if body is not None and encoding in DECODABLE_ENCODINGS:
            body["decoded_from"] = encoding
        line: dict[str, Any] = {
            "type": "exchange",
            "at": round(at, 6),
            "duration": round(duration, 6),
            "dialect": speaks.name,
            "request": {
                "method": method,
                "path": path,
                "query": self.redactor.query(query or None),
                "headers": self.redactor.headers(kept(request_headers, REQUEST_HEADERS)),
                "body": self.redactor.body(
                    encode_body(request, request_headers.get("Content-Type"))
                ),
            },
            "response": {
                "status": status,
                "headers": self.redactor.headers(back),
                "body": self.redactor.body(body),
            },
            "task": task,
            "role": role,
            "state": state,
        }
        if own:
            line["own"] = True
        self.writer.append(line)
        if not own and 200 <= status < 300:
            self._fetch_media(speaks.name, task, answer)

    def _fetch_media(self, dialect: str, task: str | None, answer: Any) -> None:
        for owner, url in recording_of(dialect).media_of(answer):
            self.media.want(dialect, owner or task, url, self.redactor.url(url))

    def close(self) -> list[Hit]:
        """Finish the downloads, write the final counts into the header, and scan what
        was written for every secret seen: the hits (none: nothing leaked)."""
        self.media.close()
        self.writer.close(self.redactor.counts)
        return scan(self.writer.path, self.redactor.secrets)


# -- luma-mock proxy --cassette (arguments in mock_server.cli) ----------------------------


def recorder_from_args(args: Any, target: str) -> Recorder | None:
    """The recorder ``--cassette`` asks for (None without it); ValueError or OSError on a
    bad rules file or an unwritable cassette."""
    if not getattr(args, "cassette", None):
        return None
    redact = getattr(args, "redact", None)
    rules = RedactionRules.load(redact) if redact else RedactionRules()
    cap = getattr(args, "media_cap", None)
    return Recorder(
        args.cassette,
        target,
        rules=rules,
        media_cap=DEFAULT_CAP if cap is None else cap,
        base=getattr(args, "public_url", None),
    )


def finish(recorder: Recorder) -> int:
    """Close the cassette, scan it, print every hit: 3 if a secret is on disk, else 0."""
    hits = recorder.close()
    for hit in hits:
        print(f"luma-mock proxy: secret on disk: {hit}", file=sys.stderr, flush=True)
    counts = recorder.redactor.counts
    print(
        f"luma-mock proxy: cassette {recorder.path}: {recorder.writer.events_written} line(s), "
        f"{counts['tokens']} token(s) and {counts['accounts']} account id(s) aliased, "
        f"{len(hits)} secret(s) found on disk" + (" (nothing was deleted)" if hits else ""),
        flush=True,
    )
    return 3 if hits else 0
