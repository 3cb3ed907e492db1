"""``luma-mock serve --workers N``: N worker processes on one port, each a full server on
the shared store, the kernel spreading connections among them.

The supervisor (this module, in the process the user started) binds the port itself,
once, and hands the listening socket to every worker (inherited by its file descriptor,
``LUMA_MOCK_WORKER_FD``): one socket, so ``--port 0`` means one port for all, and
nothing depends on SO_REUSEPORT. It prints the one banner once every worker is ready,
passes their output through, starts a worker again if one dies (a SIGKILLed worker's
claimed work is taken over through the store's leases meanwhile), and on SIGTERM or
SIGINT stops them all — SIGTERM each, then waits — and exits 0.

A supervisor that dies without stopping them (SIGKILL, the OOM killer) must not leave
orphans serving its port forever: each worker also inherits the read end of a pipe
whose only write end the supervisor holds (``LUMA_MOCK_SUPERVISOR_FD``). The kernel
closes that end when the supervisor dies, however it dies; the worker reads end of file
and stops as it does on SIGTERM (`watch_supervisor`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO, Any

WORKER_FD = "LUMA_MOCK_WORKER_FD"
LIFELINE_FD = "LUMA_MOCK_SUPERVISOR_FD"
BANNER_START = "luma-mock listening on "
STOP_WAIT = 20.0  # seconds a worker has to stop before it is killed


def worker_socket() -> socket.socket | None:
    """In a worker: the listening socket its supervisor bound; None elsewhere."""
    fd = os.environ.get(WORKER_FD)
    return None if fd is None else socket.socket(fileno=int(fd))


def supervisor_lifeline() -> int | None:
    """In a worker: the pipe that reads end of file once its supervisor is gone."""
    fd = os.environ.get(LIFELINE_FD)
    return None if fd is None else int(fd)


class Supervisor:
    """Runs ``workers`` copies of ``argv`` (``luma-mock serve ...``) on one socket."""

    def __init__(self, argv: Sequence[str], host: str, port: int, workers: int) -> None:
        self.argv, self.workers = list(argv), workers
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(2048)
        self.listener.set_inheritable(True)
        # The workers' lifeline: they hold the read end; only this process the write end.
        self._lifeline, self._lifeline_end = os.pipe()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._children: list[subprocess.Popen[str]] = []
        self._ready = threading.Semaphore(0)
        self._started: set[int] = set()  # workers that printed their banner
        self.failed = False  # a worker died before it was ready: stop, do not loop

    def _start_worker(self) -> subprocess.Popen[str]:
        env = {**os.environ, WORKER_FD: str(self.listener.fileno())}
        env[LIFELINE_FD] = str(self._lifeline)
        child = subprocess.Popen(
            self.argv,
            env=env,
            pass_fds=(self.listener.fileno(), self._lifeline),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._relay, args=(child,), daemon=True).start()
        return child

    def _relay(self, child: subprocess.Popen[str]) -> None:
        """The worker's output, through; its banner is the supervisor's to print."""
        stream: IO[str] = child.stdout  # type: ignore[assignment]
        in_banner = False
        for line in stream:
            if line.startswith(BANNER_START):
                in_banner = True
                self._started.add(child.pid)
                self._ready.release()
                continue
            if in_banner and line.startswith("  "):  # the banner's further lines
                continue
            in_banner = False
            sys.stdout.write(f"[worker {child.pid}] {line}")
            sys.stdout.flush()
        self._ended(child)

    def _ended(self, child: subprocess.Popen[str]) -> None:
        code = child.wait()
        if self.stopping.is_set():
            return
        if child.pid not in self._started:  # a worker that cannot start: neither will another
            print(f"luma-mock: worker {child.pid} failed to start ({code})", flush=True)
            self.failed = True
            self.stopping.set()
            return
        print(f"luma-mock: worker {child.pid} exited ({code}); starting another", flush=True)
        with self._lock:
            if child in self._children:
                self._children.remove(child)
            if not self.stopping.is_set():
                self._children.append(self._start_worker())

    def run(self, banner: Any) -> int:
        """Start the workers, print ``banner(url)`` once all are ready, and wait for a
        signal to stop."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        with self._lock:
            self._children = [self._start_worker() for _ in range(self.workers)]
        for _ in range(self.workers):
            while not self._ready.acquire(timeout=0.5):
                if self.stopping.is_set():
                    return self.stop()
        host, port = self.listener.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        print(banner(f"http://{shown}:{port}"), flush=True)
        self.stopping.wait()
        return self.stop()

    def stop(self) -> int:
        self.stopping.set()
        with self._lock:
            children = list(self._children)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(STOP_WAIT)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.listener.close()
        print(f"luma-mock stopped; {len(children)} worker(s)", flush=True)
        return 1 if self.failed else 0
