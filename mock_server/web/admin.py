"""The control API under ``/__admin/``: the engine's Python control side (`engine.control`), over
HTTP, with the same names — for tests in any language and for a fake shared by a team.

Off when the fake listens beyond loopback, unless a control token is configured; with a
control token, every control call must bear it (``Authorization: Bearer <token>``).
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import re
from typing import Any

from flask import Blueprint, Response, current_app, request

from ..engine.accounts import parse_rate_limit
from ..engine.errors import ApiError
from ..engine.fake import Fake
from ..engine.journal import FILTER_KEYS, redact
from ..engine.payments import usdc_text, usdc_units
from ..engine.service import Engine
from .rendering import json_body, render, service

admin = Blueprint("admin", __name__, url_prefix="/__admin")

MAX_WAIT = 300.0  # seconds a long-poll may hold


def _luma() -> Fake:
    return service()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@admin.before_request
def _guard() -> None:
    settings = _luma().settings
    if settings.control_token is None:
        if not is_loopback(settings.host):
            raise ApiError(
                "not_found",
                "the control API is off: the fake listens beyond loopback without a control token",
            )
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), settings.control_token.encode()
    ):
        raise ApiError("invalid_token", "control calls need the control token")


def _body() -> dict[str, Any]:
    if not request.get_data(cache=True):
        return {}
    body = json_body()
    if not isinstance(body, dict):
        raise ApiError("bad_request", "a control call's body is a JSON object")
    return body


def _number(body: dict[str, Any], name: str, default: float | None = None) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ApiError("bad_request", f"{name} must be a number >= 0")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ApiError("bad_request", f"{name} must be a finite number")
    return number


def _timeout(body: dict[str, Any]) -> float:
    return min(MAX_WAIT, _number(body, "timeout", 10.0))


def _render(body: Any, status: int = 200) -> Response:
    return render(body, status)


def _attempt(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Engine refusals become envelopes: ValueError is a 400, TimeoutError a 504."""
    try:
        return fn(*args, **kwargs)
    except ValueError as refusal:
        raise ApiError("bad_request", str(refusal)) from None
    except TimeoutError as late:
        raise ApiError("timeout", str(late)) from None


# -- time ---------------------------------------------------------------------------


@admin.get("/clock")
def clock() -> Response:
    luma = _luma()
    return _render({"now": luma.clock.now(), "manual": luma.scheduler.manual})


@admin.post("/clock/advance")
def advance() -> Response:
    seconds = _number(_body(), "seconds")
    return _render({"now": _attempt(_luma().advance, seconds)})


# -- tasks --------------------------------------------------------------------------


def _owner(task_id: str) -> Engine:
    """The engine whose task this is, whichever dialect's (`Fake.engine_for`)."""
    engine = _luma().engine_for(task_id)
    if engine is None:
        raise ApiError("not_found", f"task {task_id!r} was not found")
    return engine


def _task_view(task_id: str) -> dict[str, Any]:
    luma = _owner(task_id)
    task = luma.task(task_id)
    delivery = luma.delivery(task_id)
    return {
        "state": task.state.value,
        "record": luma.record(task),
        "callback": delivery.as_dict() if delivery else None,
    }


@admin.get("/tasks/<task_id>")
def task(task_id: str) -> Response:
    return _render(_task_view(task_id))


@admin.post("/tasks/<task_id>/complete")
def complete(task_id: str) -> Response:
    _owner(task_id).complete(task_id)
    return _render(_task_view(task_id))


@admin.post("/tasks/<task_id>/fail")
def fail(task_id: str) -> Response:
    body = _body()
    _attempt(_owner(task_id).fail, task_id, body.get("code", "api_error"), body.get("message"))
    return _render(_task_view(task_id))


@admin.post("/tasks/<task_id>/wait")
def wait_for_state(task_id: str) -> Response:
    body = _body()
    state = body.get("state", "finished")
    _attempt(_owner(task_id).wait_for_state, task_id, state, _timeout(body))
    return _render(_task_view(task_id))


@admin.get("/tasks/<task_id>/callback")
def callback(task_id: str) -> Response:
    delivery = _owner(task_id).delivery(task_id)
    if delivery is None:
        raise ApiError("not_found", f"no callback for task {task_id!r} (yet)")
    return _render(delivery.as_dict())


@admin.post("/tasks/<task_id>/callback/wait")
def wait_for_callback(task_id: str) -> Response:
    delivery = _attempt(_owner(task_id).wait_for_callback, task_id, _timeout(_body()))
    return _render(delivery.as_dict())


# -- scenarios ----------------------------------------------------------------------


@admin.get("/scenarios")
def scenarios() -> Response:
    return _render({"rules": [rule.as_dict() for rule in _luma().scenarios.list()]})


@admin.post("/scenarios")
def add_scenario() -> Response:
    rule = _attempt(_luma().scenarios.add, _body())
    return _render(rule.as_dict(), 201)


@admin.delete("/scenarios/<int:rule_id>")
def remove_scenario(rule_id: int) -> Response:
    if not _luma().scenarios.remove(rule_id):
        raise ApiError("not_found", f"no rule {rule_id}")
    return _render({"removed": rule_id})


@admin.delete("/scenarios")
def clear_scenarios() -> Response:
    _luma().scenarios.clear()
    return _render({"rules": []})


# -- journal ------------------------------------------------------------------------


def _filters(source: Any) -> dict[str, Any]:
    filters = {k: source.get(k) for k in FILTER_KEYS if source.get(k) not in (None, "")}
    for key in ("status", "since"):
        if key in filters:
            try:
                filters[key] = int(filters[key])
            except (TypeError, ValueError):
                raise ApiError("bad_request", f"{key} must be a whole number") from None
    return filters


@admin.get("/journal")
def journal() -> Response:
    unknown = set(request.args) - set(FILTER_KEYS)
    if unknown:
        raise ApiError("bad_request", f"unknown journal filter(s): {', '.join(sorted(unknown))}")
    entries = _luma().journal.entries(**_filters(request.args))
    return _render({"entries": [e.as_dict() for e in entries], "count": len(entries)})


@admin.post("/journal/wait")
def wait_for_entry() -> Response:
    body = _body()
    unknown = set(body) - set(FILTER_KEYS) - {"timeout"}
    if unknown:
        raise ApiError("bad_request", f"unknown journal filter(s): {', '.join(sorted(unknown))}")
    entry = _attempt(_luma().journal.wait, _timeout(body), **_filters(body))
    return _render(entry.as_dict())


# -- credits and rate limits ----------------------------------------------------------


@admin.get("/balances")
def balances() -> Response:
    known = _luma().accounts.balances()
    return _render({"balances": [{"token": redact(t), "credits": c} for t, c in known.items()]})


@admin.post("/balances")
def set_balance() -> Response:
    body = _body()
    token = body.get("token")
    if not isinstance(token, str) or not token:
        raise ApiError("bad_request", "token is required")
    credits = None if body.get("credits") is None else _number(body, "credits")
    _luma().accounts.set_balance(token, credits)
    return _render({"token": redact(token), "credits": credits})


@admin.post("/rate-limit")
def set_rate_limit() -> Response:
    limit = _body().get("limit")
    _luma().accounts.set_rate_limit(_attempt(parse_rate_limit, limit))
    return _render({"limit": limit})


@admin.post("/delays")
def set_delays() -> Response:
    body = _body()
    if "delay" not in body:
        raise ApiError("bad_request", "delay is required: a preset, seconds or a table")
    _attempt(_luma().set_delays, body["delay"])
    return _render({"delay": body["delay"]})


# -- pay-per-call payments (--x402) ---------------------------------------------------

MAX_REASON = 100  # the protocol's longest codes are under 90 characters
REFUSAL_REASON = re.compile(rf"[A-Za-z0-9_.:-]{{1,{MAX_REASON}}}")


@admin.get("/x402/payments")
def payments() -> Response:
    """Every payment the gateway saw, oldest first, and the payers' balances (USDC)."""
    ledger = _luma().ledger
    shown = ledger.payments()
    known = {payer: usdc_text(units) for payer, units in ledger.balances().items()}
    return _render({"payments": shown, "count": len(shown), "balances": known})


@admin.put("/x402/balances/<payer>")
def set_payer_balance(payer: str) -> Response:
    body = _body()
    if "usdc" not in body:
        raise ApiError("bad_request", "usdc is required: a USDC amount such as 1.25, or null")
    units = None if body["usdc"] is None else _attempt(usdc_units, body["usdc"], "usdc")
    gateway = current_app.extensions.get("luma_x402")
    payer = gateway.payer(payer) if gateway is not None else payer
    _luma().ledger.set_balance(payer, units)
    return _render({"payer": payer, "usdc": usdc_text(units)})


@admin.post("/x402/refusals")
def script_refusals() -> Response:
    body = _body()
    reason, count = body.get("reason"), body.get("count", 1)
    if not isinstance(reason, str) or not reason:
        raise ApiError("bad_request", "reason is required: the protocol's code to refuse with")
    # The reason is sent back in each refused payment's 402, in its body and its base64
    # PAYMENT-REQUIRED header: a long one makes a header clients cannot read (http.client
    # refuses a line over 64 KiB), so a reason is a code's characters, and short.
    if not REFUSAL_REASON.fullmatch(reason):
        raise ApiError(
            "bad_request",
            "reason is a code such as insufficient_funds: letters, digits and _ . : -, "
            f"at most {MAX_REASON} characters",
        )
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ApiError("bad_request", "count must be a whole number >= 0")
    _luma().ledger.script_refusals(reason, count)
    return _render({"reason": reason, "count": count})


# -- a replay ---------------------------------------------------------------------------


@admin.get("/replay")
def replay() -> Response:
    """A replay's progress (`luma-mock replay`): the recorded creates not replayed yet and
    the requests refused as unrecorded, since the start or the last reset."""
    player = current_app.extensions.get("luma_replay")
    if player is None:
        raise ApiError("not_found", "this fake replays no cassette (see luma-mock replay)")
    return _render(player.progress())


# -- reset ----------------------------------------------------------------------------


@admin.post("/reset")
def reset() -> Response:
    _luma().reset()
    return _render({"reset": True})
