"""`ApiError`, and the table of error codes it checks: a code's HTTP status and default
message belong to the API's dialect, which registers its table (`register_error_codes`)
before any error is raised — on import of its package, and again when an engine is made
with it.

One table per process: a second dialect may add codes, not give a known code another
status. Every dialect's table has `ENGINE_CODES`, the codes the engine and the HTTP
layer raise themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

# What the engine and the HTTP layer raise on their own, whatever the dialect.
ENGINE_CODES = (
    "bad_request",
    "invalid_token",
    "not_found",
    "method_not_allowed",
    "request_too_large",
    "used_up",
    "too_many_requests",
    "api_error",
    "timeout",
    # A replay's answer to a request its cassette has no recording of (`mock_server.replay`).
    "not_recorded",
)


class ErrorInfo(Protocol):
    """One documented error code: the status it is answered with, its default message."""

    @property
    def status(self) -> int: ...

    @property
    def message(self) -> str: ...


# (code, message, trace_id=None, task_id=None) -> an error as the dialect answers it.
ErrorBody = Callable[..., dict[str, Any]]

_codes: dict[str, ErrorInfo] = {}
_body: ErrorBody | None = None  # the first registering dialect's, for `ApiError.envelope`


def register_error_codes(codes: Mapping[str, ErrorInfo], body: ErrorBody) -> None:
    """Make ``codes`` known (again: registering the same table twice is harmless)."""
    global _body
    missing = [code for code in ENGINE_CODES if code not in codes]
    if missing:
        raise ValueError(f"a dialect's error codes must include {', '.join(missing)}")
    clashes = [c for c, info in codes.items() if c in _codes and _codes[c].status != info.status]
    if clashes:
        raise ValueError(f"error code(s) already registered with another status: {clashes}")
    # A code keeps the first default message it was registered with: a second dialect
    # in the same process must not change the first one's messages (its own wording it
    # gives in its error body).
    for code, info in codes.items():
        _codes.setdefault(code, info)
    if _body is None:
        _body = body


def codes() -> Mapping[str, ErrorInfo]:
    """The registered error codes."""
    if not _codes:
        raise RuntimeError(
            "no dialect has registered its error codes (import a dialect package first, "
            "e.g. mock_server.acedata)"
        )
    return _codes


def code_for_status(status: int) -> str:
    """The first registered code answered with ``status``, else ``bad_request`` for a
    4xx and ``api_error`` for a 5xx (for a rule that asks for a status by number)."""
    for code, info in codes().items():
        if info.status == status:
            return code
    return "bad_request" if status < 500 else "api_error"


class ApiError(Exception):
    """An answer in the dialect's error body. Raised anywhere in the engine; the HTTP
    layer renders it with the code's status."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        known = codes()
        if code not in known:
            raise ValueError(f"{code!r} is not a documented error code")
        self.code = code
        # A scenario rule may answer any status (``{"reject": 409}``): the code is then
        # the nearest registered one, for a dialect whose body names a code.
        self.status = known[code].status if status is None else status
        self.message = message or known[code].message
        # Whether the message is the code's default: a dialect renders its own default
        # wording then (`message_in`), whichever dialect registered the code first.
        self.given = bool(message)
        self.headers = headers or {}
        super().__init__(f"{code}: {self.message}")

    def in_words_of(self, table: Mapping[str, ErrorInfo]) -> str:
        """The message in the words of the dialect whose codes are ``table``: its own
        default for the code, unless a message was given on purpose."""
        if self.given:
            return self.message
        own = table.get(self.code)
        return own.message if own is not None else self.message

    def envelope(self, trace_id: str | None = None, task_id: str | None = None) -> dict[str, Any]:
        """This error in the error body of the dialect that registered first (for callers
        of the Python API; the HTTP layer renders through its engine's dialect)."""
        assert _body is not None  # set with the codes this error was checked against
        return _body(self.code, self.message, trace_id, task_id)
