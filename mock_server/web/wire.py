"""What `connection` reads and writes on the wire, apart from the loop itself: the limits
it enforces, a request as llhttp hands it over, refusals, the Date line, and the small
helpers that turn answers into bytes (the environ is `wsgi`'s)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Any

MAX_HEAD = 64 * 1024  # bytes of request line and headers
MAX_HEADERS = 100
READ_SIZE = 65_536
LINGER_SECONDS = 2.0  # after a refusal: how long unread input is drained before closing
LINGER_BYTES = 16 * 1024 * 1024


class Refusal(Exception):
    """A request the server answers itself, with the dialect's error body, and then closes."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Request:
    __slots__ = (
        "body",
        "expect_continue",
        "header_count",
        "headers",
        "keep_alive",
        "method",
        "url",
        "version",
    )

    def __init__(self) -> None:
        self.url = b""
        self.headers: dict[str, str] = {}  # as `wsgi.add_header` keys them: HTTP_USER_AGENT, ...
        self.header_count = 0
        self.body: list[bytes] = []
        self.method = "GET"
        self.version = "1.1"
        self.keep_alive = True
        self.expect_continue = False


class DateLine:
    """The Date header line, formatted once a second rather than once an answer."""

    second = -1
    line = ""

    @classmethod
    def now(cls) -> str:
        second = int(time.time())
        if second != cls.second:
            cls.second, cls.line = second, f"Date: {formatdate(second, usegmt=True)}"
        return cls.line


def parse_refusal(error: Exception) -> Refusal:
    reason = str(error) or type(error).__name__
    if "Content-Length overflow" in reason:
        return Refusal(413, "request_too_large", "the request's Content-Length is too large")
    return Refusal(400, "bad_request", f"the request could not be read: {reason}")


# (code, message) -> the bytes of a refusal's body.
RefusalBody = Callable[[str, str], bytes]


def refusal_bytes(error_body: Callable[[str, str], Any]) -> RefusalBody:
    """A refusal body made by a dialect's ``error_body``, as JSON bytes (the json
    module's: refusals are rare, and their bytes stay as they always were)."""

    def render(code: str, message: str) -> bytes:
        return json.dumps(error_body(code, message)).encode()

    return render


def json_headers(payload: bytes) -> list[tuple[str, str]]:
    return [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]


def no_write(data: bytes) -> None:
    raise NotImplementedError("the fake's app never uses WSGI's write()")


def close_body(body: Iterable[bytes]) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):
            close()
