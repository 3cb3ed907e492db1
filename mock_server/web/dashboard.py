"""The dashboard at ``/__admin/``: a page (HTML, CSS and a script, served from
``dashboard/`` beside this module; no CDN, no build step) that watches and steers the
fake through the control API, plus what the page needs that the control API lacks —
the task list with paging, one task's whole story, the latest journal entries, the
fake's state at a glance, and the live stream of changes (`live`).

Safety is the control API's: off beyond loopback without a control token. The page and
its two files hold no data, so with a control token they are served without it (the
page then asks for the token and sends it as a header); every data call needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, request, send_file

from ..engine.errors import ApiError
from ..engine.journal import FILTER_KEYS, redact
from ..engine.service import Engine
from . import live
from .admin import _filters, is_loopback
from .admin import _guard as _control_guard
from .rendering import render, service

dashboard = Blueprint("dashboard", __name__, url_prefix="/__admin")

FILES = Path(__file__).with_name("dashboard")
ASSETS = {
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
MAX_PAGE = 200  # rows a page of tasks or journal entries may ask for
# The page builds every element with text nodes; this policy is the second line: nothing
# but the fake's own files may run, load or be framed.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _engines() -> list[Engine]:
    return list(service().engines.values())


@dashboard.before_request
def _guard() -> None:
    if request.endpoint in ("dashboard.page", "dashboard.asset"):
        settings = service().settings
        if settings.control_token is None and not is_loopback(settings.host):
            raise ApiError(
                "not_found",
                "the control API is off (and the dashboard with it): the fake listens "
                "beyond loopback without a control token",
            )
        return
    _control_guard()


# -- the page -------------------------------------------------------------------------


@dashboard.get("/")
def page() -> Response:
    response = send_file(FILES / "index.html", mimetype="text/html", max_age=0)
    response.headers.update(PAGE_HEADERS)
    return response


@dashboard.get("/dashboard/<name>")
def asset(name: str) -> Response:
    if name not in ASSETS:
        raise ApiError("not_found", f"no dashboard file {name!r}")
    response = send_file(FILES / name, mimetype=ASSETS[name], max_age=0)
    response.headers.update(PAGE_HEADERS)
    return response


# -- its data ---------------------------------------------------------------------------


def _whole(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError("bad_request", f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise ApiError("bad_request", f"{name} must be between {low} and {high}")
    return value


@dashboard.get("/state")
def state() -> Response:
    """The clock, the dialects (with their error codes, for Fail), credits, rate limit."""
    engines = _engines()
    first = engines[0]
    limit = first.accounts.rate_limit
    balances = [
        {"token": redact(token), "credits": credits}
        for token, credits in first.accounts.balances().items()
    ]
    return render(
        {
            "now": first.clock.now(),
            "manual": first.scheduler.manual,
            "dialects": [
                {"name": e.dialect.name, "error_codes": sorted(e.dialect.error_codes())}
                for e in engines
            ],
            "balances": balances,
            "default_credits": first.accounts.default_credits,
            "rate_limit": None if limit is None else f"{limit[0]}/{limit[1]:g}",
            "max_tasks": first.settings.max_tasks,
            "control_token": first.settings.control_token is not None,
        }
    )


@dashboard.get("/tasks")
def tasks() -> Response:
    """Tasks newest first, a page at a time, from every dialect of the process (or one:
    ``dialect``)."""
    unknown = set(request.args) - {"offset", "limit", "dialect"}
    if unknown:
        raise ApiError("bad_request", f"unknown parameter(s): {', '.join(sorted(unknown))}")
    offset = _whole("offset", 0, 0, 10**9)
    limit = _whole("limit", 50, 1, MAX_PAGE)
    engines = _engines()
    wanted = request.args.get("dialect")
    if wanted:
        engines = [e for e in engines if e.dialect.name == wanted]
        if not engines:
            raise ApiError("bad_request", f"dialect must be one of {_dialect_names()}")
    total, rows = live.page_of_tasks(engines, offset, limit)
    return render(
        {
            "total": total,
            "offset": offset,
            "limit": limit,
            "now": engines[0].clock.now(),
            "tasks": rows,
        }
    )


def _dialect_names() -> str:
    return ", ".join(e.dialect.name for e in _engines())


@dashboard.get("/tasks/<task_id>/detail")
def task_detail(task_id: str) -> Response:
    found = live.owner(_engines(), task_id)
    if found is None:
        raise ApiError("not_found", f"task {task_id!r} was not found")
    return render(live.task_detail(*found))


@dashboard.get("/journal/latest")
def journal_latest() -> Response:
    """The newest entries that match the control API's journal filters, newest first,
    as summaries (``limit``, default 50)."""
    unknown = set(request.args) - set(FILTER_KEYS) - {"limit"}
    if unknown:
        raise ApiError("bad_request", f"unknown journal filter(s): {', '.join(sorted(unknown))}")
    limit = _whole("limit", 50, 1, MAX_PAGE)
    entries = service().journal.latest(limit, **_filters(request.args))
    return render({"entries": [live.entry_summary(e) for e in entries]})


@dashboard.get("/journal/<int:seq>")
def journal_entry(seq: int) -> Response:
    entry = service().journal.by_seq(seq)
    if entry is None:
        raise ApiError("not_found", f"journal entry {seq} is not kept (any more)")
    return render(entry.as_dict())


@dashboard.get("/events")
def events() -> Response:
    """Server-sent events of what changes (`live.stream`); the connection closes when
    the stream ends, at the fake's shutdown or when the client goes away."""
    body: Any = live.stream(_engines())
    return Response(
        body,
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", "Connection": "close"},
    )
