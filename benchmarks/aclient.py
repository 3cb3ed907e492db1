"""A small asyncio HTTP/1.1 client and server on raw sockets, cheap enough to hold a
thousand connections at once from one Python process (no thread per socket).

Only what the benchmarks need: JSON POSTs with a Content-Length, keep-alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from benchmarks.load import http_request, read_response


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


@dataclass
class Answer:
    status: int  # 0 when the exchange failed below HTTP
    body: Any
    started: float  # perf_counter at the start of the call
    ended: float
    error: str | None = None
    wall_started: float = 0.0  # time.time() at the start, to set beside the fake's clock

    @property
    def seconds(self) -> float:
        return self.ended - self.started


async def post_once(url: str, path: str, body: Any, timeout: float) -> Answer:
    """One POST on a fresh connection (for held requests: one socket each)."""
    host, port = host_port(url)
    wall_started = time.time()
    started = time.perf_counter()
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.write(http_request(path, json.dumps(body).encode(), host, port))
        status, raw = await asyncio.wait_for(read_response(reader), timeout)
        return Answer(status, _parse(raw), started, time.perf_counter(), None, wall_started)
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as failure:
        ended = time.perf_counter()
        return Answer(0, None, started, ended, type(failure).__name__, wall_started)
    finally:
        if writer is not None:
            writer.close()


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


async def post_many(
    url: str,
    path: str,
    bodies: Callable[[int], Any],
    count: int,
    connections: int,
    *,
    timeout: float = 30.0,
    on_answer: Callable[[int, Answer], None] | None = None,
) -> list[Answer]:
    """``count`` POSTs over ``connections`` keep-alive connections, each connection
    taking the next index until all are sent; bounded by count, and each call by
    ``timeout``."""
    host, port = host_port(url)
    answers: list[Answer | None] = [None] * count
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        try:
            while next_index < count:
                index = next_index
                next_index += 1
                payload = http_request(path, json.dumps(bodies(index)).encode(), host, port)
                started = time.perf_counter()
                writer.write(payload)
                status, raw = await asyncio.wait_for(read_response(reader), timeout)
                answer = Answer(status, _parse(raw), started, time.perf_counter())
                answers[index] = answer
                if on_answer is not None:
                    on_answer(index, answer)
        finally:
            writer.close()

    results = await asyncio.gather(
        *(worker() for _ in range(min(connections, count))), return_exceptions=True
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    done = [a for a in answers if a is not None]
    if failures and len(done) < count:
        raise RuntimeError(f"{count - len(done)} of {count} calls not made: {failures[0]!r}")
    return done


# -- a fast receiver ------------------------------------------------------------------------


@dataclass
class Arrival:
    at: float  # time.time() once the whole request was read
    path: str
    body: Any


class FastReceiver:
    """An asyncio HTTP server on loopback that records every POST (with the wall-clock
    time it arrived) and answers 200 ``{}`` over keep-alive connections."""

    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self._server: asyncio.base_events.Server | None = None
        self._changed = asyncio.Event()
        self._open: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.url = ""

    async def start(self) -> FastReceiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=2048)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/callback"
        return self

    async def close(self) -> None:
        """Stop listening, close every connection and let each handler end on its own
        (bounded), so nothing is left for asyncio to cancel noisily."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._open):
            writer.close()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)
        if self._server is not None:
            await asyncio.wait_for(self._server.wait_closed(), 5)

    async def wait_count(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.arrivals) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._open.add(writer)
        try:
            for _ in range(1_000_000):  # bounded: far more requests than one run sends
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                raw = await reader.readexactly(length)
                path = lines[0].split(" ")[1] if " " in lines[0] else "?"
                self.arrivals.append(Arrival(time.time(), path, _parse(raw)))
                self._changed.set()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2\r\n\r\n{}"
                )
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            self._open.discard(writer)
            writer.close()
