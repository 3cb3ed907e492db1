"""Every Python and shell example in the README and the docs runs, against a real fake,
and does what the page says (`doc_examples` says how a page marks its blocks): exit
status 0, and where the page shows the output, that output. An example that stops
working fails the test command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mock_server.harness.process import ServedFake
from tests.doc_examples import ROOT, Block, examples, files_of, missing_lines, pages

EXAMPLES = examples()
BIN = Path(sys.executable).parent  # luma-mock and the tools of this environment


@pytest.fixture(scope="module")
def fake() -> Iterator[str]:
    """One served fake for the examples (both dialects, instant tasks, a real clock): its
    URL is LUMA_MOCK_URL in every example's environment, reset before each."""
    with ServedFake.serve("--delay", "instant") as served:
        yield served.url


def run(block: Block, url: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    for name, text in files_of(block.page).items():
        (workdir / name).write_text(text, encoding="utf-8")
    env = {
        **os.environ,
        "LUMA_MOCK_URL": url,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(workdir),  # the page's files import as the reader's modules
    }
    if block.kind == "shell":
        command = ["bash", "-e", "-o", "pipefail", "-c", block.code]
    elif block.kind == "pytest":
        (workdir / "test_example.py").write_text(block.code, encoding="utf-8")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        command.append("test_example.py")
    else:
        program = "\n".join(b.code for b in [*block.before, block])
        (workdir / "example.py").write_text(program, encoding="utf-8")
        command = [sys.executable, "example.py"]
    return subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=240
    )


@pytest.mark.parametrize("block", EXAMPLES, ids=[b.name for b in EXAMPLES])
def test_the_example_works(block: Block, fake: str, tmp_path: Path) -> None:
    requests.post(f"{fake}/__admin/reset", timeout=10).raise_for_status()
    done = run(block, fake, tmp_path)
    shown = f"\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"{block.name} exited {done.returncode}{shown}"
    assert missing_lines(block.expected, done.stdout + done.stderr) == [], shown


def test_the_pages_have_examples_and_say_why_one_does_not_run() -> None:
    # The directives are read strictly (a no-run without a reason, an output with no
    # example before it, raise); and the README and the guides do show runnable code.
    runnable = {b.page for b in EXAMPLES}
    assert "README.md" in runnable
    assert len(runnable) >= 5, runnable
    assert pages()[0] == ROOT / "README.md"


def test_an_expected_output_is_checked_line_by_line_in_order() -> None:
    output = "POST /luma/videos 200 ok\nPOST /luma/tasks 200 DRIFT answer drift\n"
    assert missing_lines(["POST /luma/videos 200 ok", "POST … DRIFT …"], output) == []
    assert missing_lines(["POST … DRIFT …", "POST /luma/videos 200 ok"], output) == [
        "POST /luma/videos 200 ok"
    ]
