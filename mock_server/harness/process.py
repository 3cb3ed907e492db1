"""``luma-mock serve`` as a child process: started on a free port, its banner awaited,
its output kept, and stopped by a signal.

    with ServedFake.serve("--delay", "instant") as fake:
        requests.post(fake.url + "/luma/videos", ...)
    print(fake.output)

The child's environment is this process's, less every ``LUMA_MOCK_*`` variable (a
setting of the shell must not change a fake that a test or a suite configures), plus
the ``env`` given. Its output is drained as it comes — a full pipe would stall a server
that logs every request — into memory, or with ``output_file`` straight into that file
(nothing in this process reads it until asked: for benchmarks, where a draining thread
would compete with the load it measures).
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

BANNER_START = "luma-mock listening on "
# The URL, the settings, the dashboard and an example (mock_server.web.server.banner).
BANNER_LINES = 4

_RUNNING: set[ServedFake] = set()  # stopped at exit, should an owner forget


def cli_command() -> list[str]:
    """``luma-mock`` as this interpreter runs it (before the ``serve`` verb)."""
    return [sys.executable, "-m", "mock_server.cli"]


def serve_command(*args: str, command: Sequence[str] | None = None) -> list[str]:
    """``luma-mock serve --port 0 *args``, run by ``command`` (`cli_command` unless
    given, e.g. the installed script)."""
    return [*(command or cli_command()), "serve", "--port", "0", *args]


def replay_command(
    cassette: str | Path, *args: str, command: Sequence[str] | None = None
) -> list[str]:
    """``luma-mock replay CASSETTE --port 0 *args``, run by ``command`` (as `serve_command`)."""
    return [*(command or cli_command()), "replay", str(cassette), "--port", "0", *args]


def child_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without ``LUMA_MOCK_*``, then ``env`` on top."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("LUMA_MOCK_")}
    return {**inherited, **(env or {})}


class ServedFake:
    """A process that serves the fake and says so with the ``luma-mock listening on URL``
    banner; ``url``, ``pid``, ``banner`` (its lines) and ``output`` (all it printed so
    far) once started. Raises RuntimeError, with the output, if no banner comes."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        output_file: Path | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        self.command = list(command)
        self.output_file = output_file
        self._lines: list[str] = []
        self._printed = threading.Condition()  # notified for every line drained
        self._reader: threading.Thread | None = None
        sink = output_file.open("wb") if output_file is not None else subprocess.PIPE
        try:
            self.process = subprocess.Popen(
                self.command,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=child_environment(env),
                text=True,
                errors="replace",
            )
        finally:
            if output_file is not None:
                sink.close()  # type: ignore[union-attr]
        _RUNNING.add(self)
        if output_file is None:
            self._reader = threading.Thread(target=self._drain, daemon=True)
            self._reader.start()
        self.banner, self._banner_end = self._await_banner(ready_timeout)
        self.url = self.banner[0].split()[-1]

    @classmethod
    def serve(
        cls,
        *args: str,
        env: Mapping[str, str] | None = None,
        command: Sequence[str] | None = None,
        output_file: Path | None = None,
        ready_timeout: float = 30.0,
    ) -> ServedFake:
        """``luma-mock serve --port 0 *args`` (see `serve_command`)."""
        return cls(
            serve_command(*args, command=command),
            env=env,
            output_file=output_file,
            ready_timeout=ready_timeout,
        )

    @classmethod
    def replay(
        cls,
        cassette: str | Path,
        *args: str,
        env: Mapping[str, str] | None = None,
        command: Sequence[str] | None = None,
        ready_timeout: float = 30.0,
    ) -> ServedFake:
        """``luma-mock replay CASSETTE --port 0 *args``: a cassette played back, with the
        same banner, control API and stop as a served fake."""
        return cls(
            replay_command(cassette, *args, command=command),
            env=env,
            ready_timeout=ready_timeout,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def lines(self) -> list[str]:
        """Every line printed so far (a line still being written may be cut short)."""
        if self.output_file is None:
            return list(self._lines)
        try:
            return self.output_file.read_text(errors="replace").splitlines(keepends=True)
        except OSError:
            return []

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def log(self) -> str:
        """What it printed after the banner: its log."""
        return "".join(self.lines[self._banner_end :])

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._printed:
                self._lines.append(line)
                self._printed.notify_all()
        with self._printed:  # the child's output ended: wake a waiter at once
            self._printed.notify_all()

    def _wait_for_output(self, deadline: float) -> None:
        """Until a new line is printed (draining a pipe) — or, when the output goes
        straight to a file, which nothing can be woken by, a short look later."""
        if self._reader is None:
            time.sleep(0.002)
            return
        with self._printed:
            seen = len(self._lines)
            self._printed.wait_for(
                lambda: len(self._lines) > seen or self.process.poll() is not None,
                timeout=max(0.0, min(0.5, deadline - time.monotonic())),
            )

    def _await_banner(self, timeout: float) -> tuple[list[str], int]:
        deadline = time.monotonic() + timeout
        while True:
            exited = self.process.poll() is not None
            if exited and self._reader is not None:
                self._reader.join(5)  # what it printed before it went
            lines = self.lines
            for at, line in enumerate(lines):
                if line.startswith(BANNER_START) and line.endswith("\n"):
                    end = min(at + BANNER_LINES, len(lines))
                    if end == at + BANNER_LINES or exited:
                        return lines[at:end], end
                    break
            if exited or time.monotonic() >= deadline:
                break
            self._wait_for_output(deadline)
        output = self.stop(signal.SIGKILL) if not exited else self.stop()
        raise RuntimeError(f"luma-mock did not start:\n{output}")

    def stop(
        self,
        sig: int = signal.SIGTERM,
        timeout: float = 15.0,
        *,
        on_timeout: Literal["kill", "raise"] = "kill",
    ) -> str:
        """Send ``sig`` (if it still runs), wait up to ``timeout`` for it to exit, and
        return everything it printed. Still running then: killed, or with
        ``on_timeout="raise"`` `subprocess.TimeoutExpired` (it is left running)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            if on_timeout == "raise":
                raise
            self.process.kill()
            self.process.wait(timeout=10)
        _RUNNING.discard(self)
        if self._reader is not None:
            self._reader.join(timeout)
        return self.output

    def __enter__(self) -> ServedFake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@atexit.register
def stop_all(timeout: float = 5.0) -> None:
    """Stop every `ServedFake` still running (also at exit)."""
    for fake in list(_RUNNING):
        fake.stop(timeout=timeout)
