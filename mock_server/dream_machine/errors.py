"""This API's error body, ``{"detail": "<message>"}``, and its codes: the engine's own
(`ENGINE_CODES`) with the statuses every dialect of the process shares, and the
wording Luma's documents give where they give one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..engine.errors import codes


@dataclass(frozen=True)
class ErrorInfo:
    status: int
    message: str


# Statuses as the process's table has them (one table per process: a code cannot change
# its status between dialects); messages in this API's words, used when this dialect is
# the first to register (a process serving only it).
ERROR_CODES: dict[str, ErrorInfo] = {
    "bad_request": ErrorInfo(400, "Invalid request"),
    "invalid_token": ErrorInfo(401, "Invalid API key is provided"),
    "used_up": ErrorInfo(403, "Insufficient credits"),
    # Decision: an empty balance is 402 with this detail, as Luma's newer (Agents) API
    # documents it; the Dream Machine documents publish no status list. The engine's
    # ``used_up`` is said so by this dialect (`DreamMachineDialect.error_aliases`).
    "insufficient_credits": ErrorInfo(402, "Insufficient credits"),
    "forbidden": ErrorInfo(403, "Access denied"),
    "not_found": ErrorInfo(404, "Generation not found"),
    "method_not_allowed": ErrorInfo(405, "Method not allowed"),
    # An upscale or audio of a generation that is no completed video (see `edits`).
    "conflict": ErrorInfo(409, "Generation is not in a state for this request"),
    # Not answered by the fake itself: for scenario rules (``reject: unprocessable``), so
    # a client's handling of a 422 (the SDKs' UnprocessableEntityError) can be tested.
    "unprocessable": ErrorInfo(422, "Unprocessable entity"),
    "request_timeout": ErrorInfo(408, "Request timeout"),
    "request_too_large": ErrorInfo(413, "Request body too large"),
    "too_many_requests": ErrorInfo(429, "Rate limit exceeded, please try again later"),
    "api_error": ErrorInfo(500, "Internal server error"),
    "timeout": ErrorInfo(504, "Generation timed out"),
    # `luma-mock replay`'s answer to a request its cassette holds no recording of.
    "not_recorded": ErrorInfo(501, "This request was not recorded in the cassette"),
}


def error_body(
    code: str, message: str, trace_id: str | None = None, task_id: str | None = None
) -> dict[str, Any]:
    """``{"detail": message}``. A code's default message from another dialect's table
    (the engine raises ``ApiError("invalid_token")`` with whatever the process
    registered first) is said in this API's words instead; a message given on purpose
    (a validation problem, an unknown id) stays as it is."""
    own = ERROR_CODES.get(code)
    if own is not None:
        registered = codes().get(code)
        if registered is not None and message == registered.message:
            message = own.message
    return {"detail": message}
