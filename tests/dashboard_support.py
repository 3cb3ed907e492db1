"""The dashboard's browser tests' fixtures (registered in tests/conftest.py): Debian's
Chromium driven by Playwright — one browser per module, a fresh context (its own
session storage) and page per test — against a served fake on a manual clock, reset
before each test.

Playwright never downloads a browser here: it launches the system's Chromium. Without
it (or without the playwright package) the browser tests skip off CI saying what to
install, and fail on CI (CI=true). ``python3 dev.py test -m "not browser"`` leaves them
out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support import LiveServer, live_server

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("LUMA_MOCK_CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = ROOT / "docs" / "dashboard.png"
DM_CREATE = "/dream-machine/v1/generations/video"


def _needs() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return (
            f"Chromium at {CHROMIUM}: apt-get install --no-install-recommends chromium "
            "(or set LUMA_MOCK_CHROMIUM to its path)"
        )
    return None


# A module's browser, not the session's: Playwright's sync API keeps an event loop
# running on this thread while it is open, and a later module's asyncio.run() would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _needs()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser tests need {missing}")
        pytest.skip(f"the browser tests need {missing}")
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"  # never fetch a browser of its own
    from playwright.sync_api import expect, sync_playwright

    # Generous waits: the whole suite shares two cores with this browser. A wait ends as
    # soon as the page shows what it waits for.
    expect.set_options(timeout=20_000)

    with sync_playwright() as playwright:
        # launch() gives the browser a fresh, temporary user-data-dir of its own.
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=FLAGS, headless=True
        )
        yield chromium
        chromium.close()


def config_file(path: Path, *extra: str) -> str:
    lines = ["[luma-mock]", 'clock = "manual"', "seed = 7", "callback_backoff = 1.0", *extra]
    lines += ["[luma-mock.delay]", "queue = 2", "generate = 10", "extend = 10"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A fake whose tasks wait 2 s in the queue and take 10 s, on a manual clock (one
    for the session's browser tests: each test resets it)."""
    config = config_file(tmp_path_factory.mktemp("dashboard") / "luma-mock.toml")
    with live_server("--config", config) as served:
        yield served


def control(server: LiveServer, method: str, path: str, body: Any = None) -> Any:
    answer = requests.request(method, server.url + "/__admin" + path, json=body, timeout=10)
    assert answer.ok, answer.text
    return answer.json()


def start(server: LiveServer, prompt: str = "a calm lake", **body: Any) -> str:
    answer = server.post("/luma/videos", {"prompt": prompt, "async": True, **body})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["task_id"])


def start_dream(server: LiveServer, prompt: str = "a tiger at dusk") -> str:
    answer = server.post(DM_CREATE, {"model": "ray-2", "prompt": prompt})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    from playwright.sync_api import expect

    control(server, "POST", "/reset")
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    context.set_default_timeout(20_000)
    opened = context.new_page()
    errors: list[Any] = []
    opened.on("pageerror", lambda error: errors.append(error))
    opened.goto(server.url + "/__admin/")
    expect(opened.locator("#live-state")).to_have_text("live")
    yield opened
    context.close()
    assert not errors, errors


def row(page: Any, task_id: str) -> Any:
    return page.locator(f'#tasks-table tr[data-task-id="{task_id}"]')


def advance(server: LiveServer, seconds: float) -> None:
    control(server, "POST", "/clock/advance", {"seconds": seconds})
