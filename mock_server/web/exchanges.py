"""What both sides of the HTTP layer do with an exchange — the plain WSGI endpoints of
`api` and the Flask app of `app` — so a request is handled alike on either: parse its
JSON body (strictly: finite numbers, bounded depth), journal and log it, encode the
answer and play a fault on its body, find the base URL it was sent to."""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import time
from collections.abc import Iterable, Iterator
from itertools import accumulate
from typing import Any

import orjson
from werkzeug.sansio.utils import get_host

from ..engine.dialect import Call
from ..engine.errors import ApiError
from ..engine.faults import Fault
from ..engine.journal import Journal, JournalEntry, is_secret, redact
from . import logs

log = logging.getLogger("luma_mock.requests")

# No message of the contract nests more than a few levels; a cap, checked before a body
# is decoded (`nests_deeper_than`), keeps the decoder and every later walk of a body
# (rendering records, the journal) far from Python's recursion limit.
MAX_JSON_DEPTH = 32
JOURNAL_BODY_LIMIT = 65_536  # bytes of an unparsed body kept in the journal


def parse_json(content_type: str | None, raw: bytes) -> Any:
    """A request body as JSON, or 400 ``bad_request`` saying what is wrong with it."""
    mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(
            "bad_request", f"content-type must be application/json, got {mimetype or 'none'}"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        raise ApiError("bad_request", f"body is not UTF-8 (byte {bad.start})") from None
    # Depth is measured before decoding, not left to the decoder's recursion: how deep
    # that goes is the interpreter's recursion limit, and a library may raise it (py_ecc,
    # loaded with eth-account by the x402 gateway, sets 100,000: deep enough to overflow
    # the C stack and kill the process).
    if nests_deeper_than(raw, MAX_JSON_DEPTH):
        raise ApiError(
            "bad_request", f"body is nested too deeply (more than {MAX_JSON_DEPTH} levels)"
        )
    try:
        body = _DECODER.decode(text)
    except json.JSONDecodeError as bad:
        where = f"line {bad.lineno} column {bad.colno}"
        raise ApiError("bad_request", f"body is not valid JSON: {bad.msg} at {where}") from None
    except ValueError as bad:
        raise ApiError("bad_request", f"body is not valid JSON: {bad}") from None
    return body


_ESCAPE = re.compile(rb"\\.", re.S)  # a backslash and what it escapes
_STRING = re.compile(rb'"[^"]*"')  # once escapes are gone, a string has no quote inside
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def nests_deeper_than(raw: bytes, limit: int) -> bool:
    """Whether the JSON text ``raw`` nests deeper than ``limit``, read without decoding
    it: strings taken out (escapes first), then the brackets counted in order. Linear,
    and free for a body with fewer brackets than ``limit`` (every body of the contract)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", _ESCAPE.sub(b"", raw)).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_float=_finite, parse_constant=_reject_constant)


def journal_body(body: Any, raw: bytes | None) -> Any:
    """What the journal keeps of a request body: the parsed JSON, else the text."""
    if body is not None or not raw:
        return body
    return raw[:JOURNAL_BODY_LIMIT].decode("utf-8", "replace")


def internal_error(method: str, path: str) -> ApiError:
    log.exception("unexpected error on %s %s", method, path)
    return ApiError("api_error", "internal error in the fake (see its log)")


def journal_answer(
    journal: Journal,
    entry: JournalEntry,
    *,
    call: Call | None,
    body: Any,
    status: int,
    answer: Any,
    task_id: str | None,
    fault: Fault | None,
    answer_headers: list[tuple[str, str]] | None = None,
    payment: dict[str, Any] | None = None,
) -> None:
    """Complete a request's journal entry: the body, the schema's verdict (unknown fields
    included), the scenario rule and fault, the answer given and the headers it added,
    and a paid call's payment."""
    verdict = call.verdict if call is not None else None
    journal.answered(
        entry,
        body=body,
        verdict=None
        if verdict is None
        else {
            "schema": verdict.schema,
            "ok": verdict.ok,
            # Tuples of strings: the garbage collector stops scanning them (lists it
            # would scan for as long as the journal keeps the entry).
            "problems": tuple(str(p) for p in verdict.problems),
            "unknown_fields": verdict.unknown_fields,
        },
        status=status,
        answer=answer,
        task_id=(call.task_id if call is not None else None) or task_id,
        rule=call.rule if call is not None else None,
        fault=fault.kind if fault is not None else None,
        answer_headers=dict(answer_headers) if answer_headers else None,
        payment=payment,
    )


def log_request(
    method: str,
    path: str,
    status: int,
    task_id: str | None,
    started: float,
    fault: Fault | None,
) -> None:
    """One line per request (see `logs`), unless the log is quieter than INFO."""
    if logs.REQUESTS.isEnabledFor(logging.INFO):
        duration_ms = (time.perf_counter() - started) * 1000
        kind = fault.kind if fault is not None else None
        logs.log_request(method, path, status, task_id, duration_ms, kind)


def encode(body: Any) -> bytes:
    """An answer as JSON bytes: orjson's (a task record takes ~10 µs with the json module,
    mostly its floats), or, for what orjson refuses — integers past 64 bits and unpaired
    surrogates, both of which a request body may carry into its record — the json
    module's, ASCII-escaped so that every such string can still be written."""
    try:
        return orjson.dumps(body)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(body).encode("ascii")


def answer_body(fault: Fault | None, payload: bytes) -> tuple[Iterable[bytes], int]:
    """The body of an answer and its Content-Length. Faults that are still well-formed
    HTTP (malformed JSON, a dribble) shape it here; the socket-level kinds are carried
    out by the server (`connection`), which needs the answer whole."""
    if fault is not None and fault.kind == "malformed_json":
        # A 200 that claims JSON and whose Content-Length is right: only the parse fails.
        text = payload.decode("utf-8")
        cut = text[: len(text) // 2].encode("utf-8")
        return [cut], len(cut)
    if fault is not None and fault.kind == "dribble":
        return _dribble(payload, fault.seconds), len(payload)  # streamed, yet of known size
    return [payload], len(payload)


def _dribble(payload: bytes, seconds: float) -> Iterator[bytes]:
    """``payload`` a few bytes at a time, spread over ``seconds``. Under gevent the sleep
    yields to other connections. Pieces of 8 bytes, but at least 10 pieces (so even a
    short answer dribbles) and at most 200 (so a big one is not a sleep per 8 bytes)."""
    size = max(1, min(-(-len(payload) // 10), max(8, -(-len(payload) // 200))))
    pieces = [payload[start : start + size] for start in range(0, len(payload), size)]
    pause = seconds / max(len(pieces) - 1, 1)
    for index, piece in enumerate(pieces):
        if index:
            time.sleep(pause)
        yield piece


def journal_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers as werkzeug names them (``Content-Type``, ``X-Foo-Bar``),
    secrets redacted, as the journal keeps them."""
    headers = {}
    for key, value in environ.items():
        known = _HEADER_NAMES.get(key)
        if known is None:
            known = _header_name(key)
            if len(_HEADER_NAMES) < 1024:  # names come from clients: a bounded memo
                _HEADER_NAMES[key] = known
        name, secret = known
        if name and (value or key.startswith("HTTP_")):
            headers[name] = redact(value) if secret else value
    return headers


_HEADER_NAMES: dict[str, tuple[str, bool]] = {}


def _header_name(key: str) -> tuple[str, bool]:
    """``HTTP_X_FOO`` -> (``X-Foo``, whether it is secret); "" for an environ key that
    is no header."""
    if key.startswith("HTTP_"):
        name = key[5:].replace("_", "-").title()
    elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        name = key.replace("_", "-").title()
    else:
        return "", False
    return name, is_secret(name)


def base_url(environ: dict[str, Any]) -> str:
    """What the client called, e.g. ``http://127.0.0.1:8000`` (werkzeug's rules)."""
    return _base_url(
        environ.get("wsgi.url_scheme", "http"),
        environ.get("HTTP_HOST"),
        environ.get("SERVER_NAME", ""),
        environ.get("SERVER_PORT"),
    )


@functools.lru_cache(maxsize=256)
def _base_url(scheme: str, host: str | None, server_name: str, server_port: str | None) -> str:
    server = (server_name, int(server_port or 0) or None)
    return f"{scheme}://{get_host(scheme, host, server)}"
