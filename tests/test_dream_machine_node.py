"""Luma's Node SDK (``lumaai`` from the npm registry, pinned), unchanged, through every
method against ``luma-mock serve``: ``tests/node/dream_machine_sdk.mjs`` makes the calls
and prints what it got; this test checks that and the media it was pointed at.

The package is installed on first use under ``.cache/real-clients/node-lumaai/`` (as the
agents' clients are, see `test_real_clients_agents`) and reused after that. Without node
or npm the test skips and says why — except in CI, where it fails."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import requests

from tests.media_probe import has_audio, jpeg_size, video_size
from tests.support import TOKEN, live_server
from tests.test_real_clients_agents import CACHE, locked, unavailable

NODE_LUMAAI = "lumaai@1.19.1"  # the newest on the npm registry (the Python SDK is 1.21.0)
SCRIPT = Path(__file__).with_name("node") / "dream_machine_sdk.mjs"


def node_lumaai() -> tuple[str, Path]:
    """node, and a folder whose node_modules holds the pinned SDK (installed once)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        unavailable("node and npm", "apt-get install nodejs npm", "not on PATH")
    assert node is not None and npm is not None
    home = CACHE / "node-lumaai"
    stamp = home / ".installed"
    with locked(CACHE / "node-lumaai.lock"):
        if stamp.is_file() and stamp.read_text() == NODE_LUMAAI:
            return node, home
        shutil.rmtree(home, ignore_errors=True)  # a half-made one from an interrupted run
        home.mkdir(parents=True)
        quiet = ["--no-audit", "--no-fund", "--loglevel", "error"]
        try:
            npm_run = subprocess.run(
                [npm, "install", *quiet, "--prefix", str(home), NODE_LUMAAI],
                capture_output=True,
                text=True,
                timeout=600,
            )
        except (OSError, subprocess.SubprocessError) as error:
            unavailable(NODE_LUMAAI, f"npm install --prefix {home} {NODE_LUMAAI}", str(error))
        if npm_run.returncode != 0:
            shutil.rmtree(home, ignore_errors=True)
            said = (npm_run.stdout + npm_run.stderr).strip().splitlines()[-3:]
            unavailable(NODE_LUMAAI, f"npm install --prefix {home} {NODE_LUMAAI}", " | ".join(said))
        stamp.write_text(NODE_LUMAAI)
    return node, home


def run_script(node: str, home: Path, url: str) -> dict[str, Any]:
    # The script is copied next to node_modules: ES modules resolve packages from where
    # the importing file lives, not from NODE_PATH.
    script = home / SCRIPT.name
    shutil.copyfile(SCRIPT, script)
    ran = subprocess.run(
        [node, str(script), url, TOKEN], capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    return json.loads(ran.stdout.strip().splitlines()[-1])


def test_node_sdk_through_every_method() -> None:
    node, home = node_lumaai()
    with live_server("--clock", "manual", "--delay", "10", "--token", TOKEN) as fake:
        seen = run_script(node, home, fake.url)
        media = {name: seen[name]["assets"] for name in ("upscaled", "audio", "reframedImage")}
        media |= {name: seen[name]["assets"] for name in ("reframedVideo", "modified")}
        files = {
            name: requests.get(next(iter(assets.values())), timeout=30).content
            for name, assets in media.items()
        }
        journal = fake.session.get(fake.url + "/__admin/journal", timeout=10).json()["entries"]

    assert seen["create"] == {"state": "dreaming", "type": "video"}
    assert seen["get"]["state"] == "completed"
    assert seen["list"]["ids"] == seen["list"]["expected"] and seen["list"]["count"] == 3
    for name in media:
        assert seen[name]["state"] == "completed", seen[name]
    assert seen["reframedImage"]["type"] == "image" and seen["modified"]["type"] == "video"
    assert video_size(files["upscaled"]) == (1920, 1080)
    assert video_size(files["audio"]) == (960, 540) and has_audio(files["audio"])
    assert jpeg_size(files["reframedImage"]) == (1024, 1024)
    assert video_size(files["reframedVideo"]) == (540, 960)
    assert video_size(files["modified"]) == (960, 540)

    assert seen["deleted"] is None  # 204: the SDK gives null
    assert "dolly_zoom" in seen["concepts"]
    assert seen["ping"] == {"message": "pong"}
    assert seen["credits"]["credit_balance"] > 0

    assert seen["badRequest"] == {
        "error": "BadRequestError",
        "status": 400,
        "body": {"detail": "Prompt is too short, minimum length is 3 characters"},
    }
    assert seen["unauthorized"]["error"] == "AuthenticationError"
    assert seen["unauthorized"]["body"] == {"detail": "Invalid API key is provided"}
    assert seen["notFound"]["error"] == "NotFoundError"
    assert seen["conflict"]["error"] == "ConflictError" and seen["conflict"]["status"] == 409
    # A raw "a/b" makes /generations/a/b/audio: a path the dialect does not know, answered
    # in its own body.
    assert seen["rawIdPath"]["error"] == "NotFoundError"
    assert seen["rawIdPath"]["body"] == {
        "detail": "no such path: /dream-machine/v1/generations/a/b/audio"
    }

    agents = {
        entry["headers"].get("User-Agent", "")
        for entry in journal
        if entry["kind"] == "request" and entry["path"].startswith("/dream-machine/v1/")
    }
    assert agents and all(agent.startswith("LumaAI/JS") for agent in agents), agents
