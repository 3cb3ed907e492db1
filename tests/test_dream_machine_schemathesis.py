"""Schemathesis, every check on, against the Dream Machine dialect's own OpenAPI document
as a served fake publishes it (``/dream-machine/v1/openapi.json``): the document and the
fake agree on every operation, valid requests are accepted, invalid ones refused with
``{"detail"}``, and nothing the fuzzer sends makes the fake fail."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import live_server
from tests.test_hardening_fuzz import (
    FAKE_FOR_SCHEMATHESIS,
    HOOKS,
    ST_MAX_EXAMPLES,
    ST_TOKEN,
    StRun,
    read_report,
)

PREFIX = "/dream-machine/v1"
OPERATIONS = {
    "POST /generations",
    "GET /generations",
    "POST /generations/video",
    "POST /generations/image",
    "POST /generations/image/reframe",
    "POST /generations/video/reframe",
    "POST /generations/video/modify",
    "GET /generations/{id}",
    "DELETE /generations/{id}",
    "POST /generations/{id}/upscale",
    "POST /generations/{id}/audio",
    "GET /generations/concepts/list",
    "GET /generations/camera_motion/list",
    "GET /ping",
    "GET /credits",
}


@pytest.fixture(scope="module")
def dm_schemathesis_run(tmp_path_factory: pytest.TempPathFactory) -> StRun:
    pytest.importorskip("schemathesis")
    st_command = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st_command is not None, "schemathesis is installed but its st command is not"
    work = tmp_path_factory.mktemp("dm-schemathesis")
    hooks = work / "luma_hooks.py"
    hooks.write_text(HOOKS, encoding="utf-8")
    report = work / "events.ndjson"
    with socket.socket() as refusing, live_server(*FAKE_FOR_SCHEMATHESIS) as fake:
        refusing.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        callback_url = f"http://127.0.0.1:{refusing.getsockname()[1]}/callback"
        command = [
            *(st_command, "run", f"{fake.url}{PREFIX}/openapi.json", "--url", fake.url + PREFIX),
            *("-H", f"Authorization: Bearer {ST_TOKEN}"),
            *("--checks", "all", "--max-examples", ST_MAX_EXAMPLES, "--generation-deterministic"),
            *("--workers", "1", "--request-timeout", "20", "--no-color"),
            *("--report", "ndjson", "--report-ndjson-path", str(report)),
        ]
        ran = subprocess.run(
            command,
            cwd=work,  # its cache of past failures lives here, not in the checkout
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": str(hooks),
                "LUMA_HARDENING_CALLBACK_URL": callback_url,
            },
            capture_output=True,
            text=True,
            timeout=300,
        )
        server_output = fake.stop()
    cases, operations, failures = read_report(report)
    return StRun(
        ran.returncode, ran.stdout + ran.stderr, cases, operations, failures, server_output
    )


def test_schemathesis_ran_every_operation_and_left_no_traceback(
    dm_schemathesis_run: StRun,
) -> None:
    # "Stateful tests": the phase that follows the document's links (none here yet).
    operations = dm_schemathesis_run.operations - {"Stateful tests"}
    assert operations == OPERATIONS, dm_schemathesis_run.output[-2000:]
    assert dm_schemathesis_run.cases >= 300, dm_schemathesis_run.output[-2000:]
    assert "Traceback" not in dm_schemathesis_run.server_output


def test_schemathesis_passes_every_check(dm_schemathesis_run: StRun) -> None:
    assert dm_schemathesis_run.returncode == 0 and not dm_schemathesis_run.failures, (
        "\n".join(str(f) for f in dm_schemathesis_run.failures) + dm_schemathesis_run.output[-3000:]
    )
