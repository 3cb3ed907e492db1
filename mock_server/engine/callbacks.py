"""Delivering results to ``callback_url``: one `CallbackDelivery` per task, attempted by a
background dispatcher with a per-attempt timeout and retries with backoff on the fake's
clock (so a manual clock moves retries too), and at most one successful delivery.

Targets are checked before every attempt: link-local and cloud-metadata addresses are
refused, so the fake never becomes a relay into the network it runs in.
"""

from __future__ import annotations

import contextlib
import fnmatch
import ipaddress
import json
import logging
import queue
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from .clock import Clock
from .scheduler import Scheduler
from .sender import CallbackSender, Target

log = logging.getLogger("luma_mock.callbacks")

# Cloud metadata services that are not link-local (AWS's IPv6 one, Alibaba Cloud's).
METADATA_ADDRESSES = {ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200")}
METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}


class TargetRefused(Exception):
    pass


@dataclass(frozen=True)
class TargetPolicy:
    """Where callbacks may go: any http(s) host but link-local and metadata addresses,
    narrowed further by ``allow`` (host patterns such as ``127.0.0.1`` or ``*.test``)."""

    allow: tuple[str, ...] = ()

    def check_url(self, url: str) -> str:
        """Refuse what can be refused without DNS; returns the host."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower().rstrip(".")  # "name." is the same host
            parts.port  # noqa: B018 - raises for a port out of range: refuse it now
        except ValueError as bad:  # "http://[::1/", "http://x:99999/"
            raise TargetRefused(f"{url!r} is not a usable URL: {bad}") from None
        if parts.scheme not in ("http", "https") or not host:
            raise TargetRefused(f"{url!r} is not an http(s) URL with a host")
        if host in METADATA_HOSTS:
            raise TargetRefused(f"{host} is a cloud metadata host")
        with contextlib.suppress(ValueError):  # a name: checked when it is resolved
            self._check_address(ipaddress.ip_address(host))
        return host

    def check_resolved(self, url: str) -> str:
        """Before each attempt: the allow-list, then the addresses the name resolves to;
        returns the checked address to connect to — connecting to it, not to the name,
        leaves no second look-up for a rebinding name to answer differently.

        The allow-list is the operator's network policy, invisible to clients — as a real
        service's outbound firewall would be — so a URL outside it is accepted when the
        task is submitted and its delivery refused (and logged), before any DNS look-up.
        """
        host = self.check_url(url)
        if self.allow and not any(fnmatch.fnmatch(host, p.lower()) for p in self.allow):
            raise TargetRefused(f"{host} is not in the callback allow-list")
        try:
            ipaddress.ip_address(host)
            return host  # an address already, checked by check_url: nothing to look up
        except ValueError:
            pass
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)  # OSError: retried
        addresses = [info[4][0].split("%")[0] for info in infos]
        for address in addresses:
            self._check_address(ipaddress.ip_address(address))
        return addresses[0]

    def connect_to(self, url: str) -> tuple[Target, str]:
        """Where a POST to ``url`` goes once checked (`check_resolved`): the checked
        address with the host named in the Host header (and, for https, in SNI and the
        certificate check), and the request path with its query."""
        address = self.check_resolved(url)
        parts = urlsplit(url)
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        target = Target(address, port, https, parts.netloc, parts.hostname or address)
        return target, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    @staticmethod
    def _check_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
        mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:169.254.169.254 and kin
        if mapped is not None:
            address = mapped
        if address.is_link_local or address in METADATA_ADDRESSES:
            raise TargetRefused(f"{address} is a link-local or cloud metadata address")
        if address.is_multicast or address.is_unspecified:
            raise TargetRefused(f"{address} is not a host address")


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    max_backoff: float = 60.0
    timeout: float = 10.0  # per attempt, in real seconds: it bounds a real socket

    def delay_before(self, retry: int) -> float:
        return min(self.max_backoff, self.backoff * 2 ** (retry - 1))

    def with_values(self, values: Mapping[str, float]) -> RetryPolicy:
        """This policy with ``retries``, ``backoff`` or ``timeout`` changed (a
        dialect's own, changed for a test: `Settings.dialect_callbacks`); a fixed
        spacing stays fixed, a doubling one is capped no lower than the backoff."""
        if not values:
            return self
        backoff = float(values.get("backoff", self.backoff))
        fixed = self.max_backoff == self.backoff  # Luma's: 100 ms apart, every time
        return replace(
            self,
            retries=int(values.get("retries", self.retries)),
            backoff=backoff,
            max_backoff=backoff if fixed else max(self.max_backoff, backoff),
            timeout=float(values.get("timeout", self.timeout)),
        )


@dataclass
class CallbackAttempt:
    number: int
    at: float  # on the fake's clock
    status: int | None = None
    error: str | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "at": self.at,
            "status": self.status,
            "error": self.error,
            "duration_ms": round(self.duration_ms, 3),
            "ok": self.ok,
        }


def make_attempt(number: int, at: float, post: Callable[[], int]) -> tuple[CallbackAttempt, bool]:
    """One POST as an attempt — its status, or why it failed, and how long it took — and
    whether the target was refused (no retry then). Both stores' dispatchers make theirs so."""
    attempt = CallbackAttempt(number=number, at=at)
    started = time.perf_counter()
    refused = False
    try:
        attempt.status = post()
        if not attempt.ok:
            attempt.error = f"answered {attempt.status}"
    except TargetRefused as refusal:
        attempt.error = f"refused: {refusal}"
        refused = True
    except Exception as failure:  # any failure of the attempt is logged, then retried
        attempt.error = f"{type(failure).__name__}: {failure}"
    attempt.duration_ms = (time.perf_counter() - started) * 1000
    return attempt, refused


@dataclass
class CallbackDelivery:
    """One task's result on its way to ``url``: every attempt, and how it ended."""

    task_id: str
    url: str
    body: dict[str, Any]
    state: str = "scheduled"  # scheduled → delivered | failed | refused | dropped
    attempts: list[CallbackAttempt] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in ("delivered", "failed", "refused", "dropped")

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "url": self.url,
            "state": self.state,
            "attempts": [a.as_dict() for a in self.attempts],
        }


class InlineExecutor:
    """Runs work at once on the caller's thread: with a manual clock, moving the clock
    performs the attempts that fall due, in order, before it returns."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> None:
        fn(*args)

    def shutdown(self) -> None:
        pass


class DaemonPool:
    """Up to ``workers`` daemon threads, started as work arrives. Unlike a
    ThreadPoolExecutor, whose threads the interpreter joins at exit, an attempt still
    waiting on a slow receiver at shutdown is dropped (and reported), not waited for."""

    def __init__(self, workers: int, name: str) -> None:
        self._work: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._workers, self._started, self._idle, self._queued = workers, 0, 0, 0
        self._name = name
        self._closed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> None:
        if self._closed:
            return  # stopping: the delivery is already marked dropped
        self._work.put((fn, args))
        with self._lock:
            self._queued += 1
            # More waiting work than idle workers: start one (a burst submitted before an
            # idle worker wakes must not all queue behind it).
            if self._queued > self._idle and self._started < self._workers:
                self._started += 1
                name = f"{self._name}-{self._started}"
                threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            item = self._work.get()
            with self._lock:
                self._idle -= 1
                if item is not None:
                    self._queued -= 1
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except Exception:  # a worker must outlive any one attempt
                log.exception("callback work failed")

    def shutdown(self) -> None:
        self._closed = True
        with self._lock:
            started = self._started
        for _ in range(started):
            self._work.put(None)


class CallbackDispatcher:
    def __init__(
        self,
        scheduler: Scheduler,
        clock: Clock,
        retry: RetryPolicy | None = None,
        targets: TargetPolicy | None = None,
        workers: int = 32,
        max_deliveries: int = 10_000,
    ) -> None:
        self.scheduler = scheduler
        self.clock = clock
        self.retry = retry or RetryPolicy()
        self.targets = targets or TargetPolicy()
        self._executor: InlineExecutor | DaemonPool = (
            InlineExecutor() if scheduler.manual else DaemonPool(workers, "luma-callback")
        )
        self._sender = CallbackSender(keep=workers)
        self._deliveries: dict[str, CallbackDelivery] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()  # task ids, first finished first
        self.max_deliveries = max_deliveries
        self._lock = threading.Lock()
        self.on_attempt: Callable[[CallbackDelivery, CallbackAttempt], None] | None = None

    def send(self, task_id: str, url: str, body: dict[str, Any]) -> CallbackDelivery:
        """Start delivering one task's result; a task is delivered at most once."""
        with self._lock:
            existing = self._deliveries.get(task_id)
            if existing is not None:
                return existing
            delivery = CallbackDelivery(task_id, url, body)
            self._deliveries[task_id] = delivery
            self._forget_oldest()
        # Not inline: the real service answers the call before it calls back.
        self.scheduler.after(0, self._executor.submit, self._attempt, delivery, now=False)
        return delivery

    def _forget_oldest(self) -> None:
        """Keep the logs of the last ``max_deliveries`` callbacks, like the task store:
        the ones that finished first go first (O(1) each), one still under way never."""
        while len(self._deliveries) > self.max_deliveries and self._finished:
            task_id, _ = self._finished.popitem(last=False)
            self._deliveries.pop(task_id, None)

    def get(self, task_id: str) -> CallbackDelivery | None:
        return self._deliveries.get(task_id)

    def all(self) -> list[CallbackDelivery]:
        with self._lock:
            return list(self._deliveries.values())

    def clear(self) -> None:
        with self._lock:
            for delivery in self._deliveries.values():
                if not delivery.finished:
                    self._mark(delivery, "dropped")
            self._deliveries.clear()
            self._finished.clear()

    def close(self) -> list[CallbackDelivery]:
        """Stop; returns the deliveries that had not finished (now marked dropped)."""
        with self._lock:
            dropped = [d for d in self._deliveries.values() if not d.finished]
        for delivery in dropped:
            self._end(delivery, "dropped")
            # In memory nobody else will send it: say what is lost, and where it went.
            log.warning(
                "callback task=%s to %s not delivered: the fake stopped after %d attempt(s)",
                delivery.task_id,
                delivery.url,
                len(delivery.attempts),
            )
        self._executor.shutdown()
        self._sender.close()
        return dropped

    def _end(self, delivery: CallbackDelivery, state: str) -> None:
        self._mark(delivery, state)
        with self._lock:
            if self._deliveries.get(delivery.task_id) is delivery:
                self._finished[delivery.task_id] = None  # may be forgotten from now on
                # Now too, not only at the next send: after a burst of retries (every
                # receiver down) the logs past the cap go as their deliveries end.
                self._forget_oldest()

    @staticmethod
    def _mark(delivery: CallbackDelivery, state: str) -> None:
        delivery.state = state
        delivery.done.set()

    def _attempt(self, delivery: CallbackDelivery) -> None:
        if delivery.finished:
            return
        number = len(delivery.attempts) + 1
        attempt, refused = make_attempt(number, self.clock.now(), lambda: self._post(delivery))
        if delivery.finished:  # dropped while the attempt was out (a reset, a shutdown)
            return
        delivery.attempts.append(attempt)
        self._settle(delivery, attempt, refused)

    def _post(self, delivery: CallbackDelivery) -> int:
        """POST the body to the address that was checked, naming the host in the Host
        header (and, for https, in SNI and the certificate check); the answer's status."""
        target, path = self.targets.connect_to(delivery.url)
        return self._sender.post(
            target, path, json.dumps(delivery.body).encode(), self.retry.timeout
        )

    def _settle(self, delivery: CallbackDelivery, attempt: CallbackAttempt, refused: bool) -> None:
        if attempt.ok:
            self._end(delivery, "delivered")
        elif refused:
            self._end(delivery, "refused")
        elif attempt.number > self.retry.retries:
            self._end(delivery, "failed")
        else:
            delay = self.retry.delay_before(attempt.number)
            self.scheduler.after(delay, self._executor.submit, self._attempt, delivery)
        level = logging.INFO if attempt.ok else logging.WARNING
        log.log(
            level,
            "callback task=%s attempt=%d %s -> %s",
            delivery.task_id,
            attempt.number,
            delivery.url,
            attempt.status if attempt.ok else attempt.error,
        )
        if self.on_attempt is not None:
            self.on_attempt(delivery, attempt)
