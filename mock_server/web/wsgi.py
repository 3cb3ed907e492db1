"""The WSGI side of a request, shared by the endpoints (`api`), the socket server
(`connection`) and the in-process transports (`transports`): the application type, and
the one way a request's head and body become an environ, so that a request reads the
same to the app whether it came over a socket or not.

The decoding is PEP 3333's: ``PATH_INFO`` is the path percent-decoded to bytes, carried
as latin-1 text (the app decodes it as UTF-8 itself, as werkzeug does); ``QUERY_STRING``
is the query as sent, not decoded; a header repeated is one value, its fields joined by
commas in the order they came (RFC 9110, 5.3); ``CONTENT_LENGTH`` is the length of the
body as read, whatever the head said.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

import httptools

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Header name -> WSGI environ key, memoized; names come from clients, so it is bounded.
ENVIRON_KEYS: dict[bytes, str] = {}
MAX_MEMO = 1024


def environ_key(name: bytes) -> str:
    """``User-Agent`` -> ``HTTP_USER_AGENT``; "" for a name with an underscore, which
    would pass for its dashed twin in the environ (dropped, as other servers do)."""
    text = name.decode("latin-1").upper()
    if "_" in text:
        return ""
    if text in ("CONTENT-TYPE", "CONTENT-LENGTH"):
        return text.replace("-", "_")
    return "HTTP_" + text.replace("-", "_")


def add_header(headers: dict[str, str], name: bytes, value: bytes) -> str:
    """Put one header field into ``headers`` (environ keys: ``HTTP_…``, ``CONTENT_TYPE``)
    and return its key. A repeated field joins the one before it; ``Content-Type`` is not
    a list, the last one counts; ``Content-Length`` is left to the caller (the environ
    says the length of the body as read); an underscored name is dropped (key "")."""
    key = ENVIRON_KEYS.get(name)
    if key is None:
        key = environ_key(name)
        if len(ENVIRON_KEYS) < MAX_MEMO:
            ENVIRON_KEYS[name] = key
    if key.startswith("HTTP_"):
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]},{text}" if key in headers else text
    elif key == "CONTENT_TYPE":
        headers[key] = value.decode("latin-1")
    return key


def request_environ(
    method: str,
    target: bytes,
    headers: dict[str, str],
    body: bytes,
    *,
    server: tuple[str, str],
    remote: tuple[str, str],
    version: str = "1.1",
    scheme: str = "http",
    multithread: bool = False,
) -> dict[str, Any]:
    """The environ of one whole request: ``target`` is the request-target as sent
    (``/path?query``, the absolute form a proxy is sent, or ``*``), ``headers`` as
    `add_header` made them, ``server`` and ``remote`` (host, port) pairs."""
    if not target.startswith(b"/"):  # absolute form (a proxy's), or "*"
        parsed = httptools.parse_url(target) if b"://" in target else None
        path = (parsed.path or b"/") if parsed else target
        query = (parsed.query or b"") if parsed else b""
    else:
        path, _, query = target.partition(b"?")
    return {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1")
        if b"%" in path
        else path.decode("latin-1"),
        "QUERY_STRING": query.decode("latin-1"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": server[1],
        "SERVER_PROTOCOL": f"HTTP/{version}",
        "REMOTE_ADDR": remote[0],
        "REMOTE_PORT": remote[1],
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": multithread,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **headers,
    }
