"""The WSGI application type, shared by the endpoints (`api`) and the server that calls
them (`connection`, `server`): its own module so that neither imports the other for it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
