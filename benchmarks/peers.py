"""The peers the fake is measured against, side by side in the same run:

- WireMock standalone (the jar the ``wiremock`` npm package carries, run with Java) with a
  static stub for each endpoint answering the documented JSON;
- Stoplight Prism (``@stoplight/prism-cli``) mocking the project's own OpenAPI document.

Both are installed with npm into ``benchmarks/.cache/`` the first time and reused after.
A peer that cannot be installed or started raises `PeerUnavailable` saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import CACHE, HOST, free_port, request, spawn, stop_process

NPM_TIMEOUT = 600  # seconds for one npm install
READY_BODY = {"action": "retrieve", "id": "e4018a99-1522-4f24-9330-62c2a9b50b59"}


class PeerUnavailable(Exception):
    pass


def _npm_install(folder: Path, package: str, marker: str) -> Path:
    """``npm install --prefix folder package`` unless ``folder/marker`` is already there."""
    target = folder / marker
    if target.exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise PeerUnavailable("npm is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"  installing {package} with npm into {folder} (once) ...", flush=True)
    try:
        done = subprocess.run(
            [npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", package],
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PeerUnavailable(f"npm install {package} took over {NPM_TIMEOUT} s") from None
    if done.returncode != 0 or not target.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
        raise PeerUnavailable(f"npm install {package} failed: {tail[0][:160]}")
    return target


def _fixture(name: str) -> Any:
    from contract_tests import contract

    for fixture in contract.fixtures():
        if fixture.name == name:
            return fixture.payload
    raise KeyError(name)


class Peer:
    name = "peer"
    process: subprocess.Popen[Any] | None = None
    url = ""

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _await(self, log: Path, timeout: float) -> None:
        """Ready once POST /luma/tasks answers 200 (each try bounded; all within timeout)."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                tail = log.read_text(errors="replace").strip()[-300:]
                raise PeerUnavailable(f"{self.name} exited at start: {tail}")
            try:
                status, body = request(self.url, "POST", "/luma/tasks", READY_BODY, timeout=2)
                if status == 200:
                    return
                last = f"{status} {str(body)[:120]}"
            except OSError as failure:
                last = str(failure)
            time.sleep(0.1)
        self.stop()
        raise PeerUnavailable(f"{self.name} not ready within {timeout:.0f} s ({last})")


class WireMock(Peer):
    """WireMock standalone with a static stub per endpoint."""

    name = "WireMock"

    def __init__(self, ready_timeout: float = 90.0) -> None:
        java = shutil.which("java")
        if java is None:
            raise PeerUnavailable("java is not installed")
        folder = CACHE / "wiremock"
        _npm_install(folder, "wiremock", "node_modules/wiremock/package.json")
        jars = sorted((folder / "node_modules" / "wiremock").rglob("*.jar"))
        if not jars:
            raise PeerUnavailable("the wiremock npm package carries no jar")
        self.jar = max(jars, key=lambda p: p.stat().st_size)
        self.version = json.loads(
            (folder / "node_modules" / "wiremock" / "package.json").read_text()
        ).get("version", "?")
        root = folder / "root"
        (root / "mappings").mkdir(parents=True, exist_ok=True)
        (root / "__files").mkdir(exist_ok=True)
        (root / "mappings" / "luma.json").write_text(json.dumps(self.mappings(), indent=2))
        port = free_port()
        self.url = f"http://{HOST}:{port}"
        self.log = folder / "wiremock.log"
        self.process = spawn(
            [
                java,
                "-jar",
                str(self.jar),
                "--port",
                str(port),
                "--bind-address",
                HOST,
                "--disable-banner",
                "--root-dir",
                str(root),
            ],
            self.log,
        )
        self._await(self.log, ready_timeout)

    @staticmethod
    def mappings() -> dict[str, Any]:
        def stub(path: str, body: Any) -> dict[str, Any]:
            return {
                "request": {"method": "POST", "url": path},
                "response": {
                    "status": 200,
                    "jsonBody": body,
                    "headers": {"Content-Type": "application/json"},
                },
            }

        return {
            "mappings": [
                stub("/luma/tasks", _fixture("task_finished_completed")),
                stub("/luma/videos", _fixture("seed_accepted_callback")),
            ]
        }


class Prism(Peer):
    """``prism mock`` of the project's OpenAPI document (static examples)."""

    name = "Prism"

    def __init__(self, ready_timeout: float = 90.0) -> None:
        if shutil.which("node") is None:
            raise PeerUnavailable("node is not installed")
        folder = CACHE / "prism"
        prism = _npm_install(folder, "@stoplight/prism-cli", "node_modules/.bin/prism")
        package = folder / "node_modules" / "@stoplight" / "prism-cli" / "package.json"
        self.version = (
            json.loads(package.read_text()).get("version", "?") if package.exists() else "?"
        )
        from mock_server.acedata.document import document

        spec = folder / "openapi.json"
        spec.write_text(json.dumps(document(), ensure_ascii=False))
        port = free_port()
        self.url = f"http://{HOST}:{port}"
        self.log = folder / "prism.log"
        env = dict(os.environ, NODE_ENV="production")
        self.process = spawn(
            [str(prism), "mock", "-h", HOST, "-p", str(port), str(spec)],
            self.log,
            own_group=True,  # node may start children: stop the whole group
            env=env,
        )
        self._await(self.log, ready_timeout)
