"""The dashboard in a real browser (fixtures: tests/dashboard_support.py): the journal,
scenarios, credits and reset, escaping, the control token, 10,000 tasks, and the
README's screenshot."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.dashboard_support import (
    DM_CREATE,
    SCREENSHOT,
    advance,
    config_file,
    control,
    row,
    start,
    start_dream,
)
from tests.support import TOKEN, LiveServer, live_server

pytestmark = pytest.mark.browser

CONTROL_TOKEN = "dashboard-control-secret"
DASH = "\u2013"  # the en dash of the pager (first to last)
SHOT_TIME = 2_000_000_000  # the screenshot's fake time (2033-05-18 03:33:20 UTC)
CLOSED = "http://127.0.0.1:9/hooks/luma"  # the discard port: nothing listens there
CALLS_SHOWN = 9  # 6 calls and 3 callback attempts
ATTEMPTS_SHOWN = 3  # at 0, 1 and 3 s after it completed (the backoff, 1 s, doubles)
MODERATION = {  # the journal's rejected entry, and the screenshot's rule
    "name": "moderation",
    "match": {"prompt_contains": "volcano"},
    "then": {"reject": "forbidden"},
}


# -- the journal ----------------------------------------------------------------------------


def test_the_journal_lists_filters_and_opens_entries_with_a_curl_line(
    page: Any, server: LiveServer
) -> None:
    from playwright.sync_api import expect

    control(server, "POST", "/scenarios", MODERATION)
    start(server, "a lake", colour="blue")  # an unknown field, still valid
    server.post("/luma/videos", {"prompt": "a volcano"})
    server.post("/luma/videos", {})
    table = page.locator("#journal-table tbody")
    expect(table.locator("tr")).to_have_count(3)
    first, moderated, refused = (table.locator("tr").nth(i) for i in (2, 1, 0))
    expect(first).to_contain_text("POST")
    expect(first).to_contain_text("/luma/videos")
    expect(first).to_contain_text("200")
    expect(first).to_contain_text(re.compile(r"\d ms"))
    expect(first).to_contain_text("valid; unknown: colour")
    expect(moderated).to_contain_text("moderation")
    expect(moderated).to_contain_text("403")
    expect(refused).to_contain_text("refused")

    page.locator("#journal-filters").get_by_label("Status").fill("403")
    page.get_by_role("button", name="Filter").click()
    expect(table.locator("tr")).to_have_count(1)
    expect(table.locator("tr")).to_contain_text("moderation")
    page.locator("#journal-filters").get_by_label("Status").fill("x")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#journal-error")).to_have_text("status must be a whole number")
    page.locator("#journal-filters").get_by_label("Status").fill("")
    page.get_by_role("button", name="Filter").click()
    expect(table.locator("tr")).to_have_count(3)

    table.locator("tr").nth(2).click()
    entry = page.locator("#entry")
    expect(entry.get_by_role("heading", name="Headers")).to_be_visible()
    expect(entry).to_contain_text("Bearer …oken")
    assert TOKEN not in (entry.text_content() or "")
    curl = page.locator("#curl-line").text_content() or ""
    assert curl.startswith(f"curl -X POST '{server.url}/luma/videos'")
    assert '"Authorization: Bearer $TOKEN"' in curl and '"colour":"blue"' in curl
    assert TOKEN not in curl
    expect(entry.get_by_role("button", name="Copy curl")).to_be_visible()


# -- scenarios, credits, rate limit, reset ------------------------------------------------------


def test_rules_are_added_refused_with_the_apis_message_and_removed(
    page: Any, server: LiveServer
) -> None:
    from playwright.sync_api import expect

    flaky = {"name": "flaky", "match": {"endpoint": "videos"}, "then": {"reject": "api_error"}}
    page.locator("#rule-text").fill(json.dumps(flaky))
    page.get_by_role("button", name="Add rule").click()
    expect(page.locator("#rules li")).to_have_count(1)
    expect(page.locator("#rules li")).to_contain_text("flaky")
    assert [r["name"] for r in control(server, "GET", "/scenarios")["rules"]] == ["flaky"]

    bad = {"match": {}, "then": {"reject": "no_such_code"}}
    refusal = requests.post(server.url + "/__admin/scenarios", json=bad, timeout=10).json()
    page.locator("#rule-text").fill('{"match": {}, "then": {"reject": "no_such_code"}}')
    page.get_by_role("button", name="Add rule").click()
    expect(page.locator("#rule-error")).to_have_text(refusal["error"]["message"])
    page.locator("#rule-text").fill("{not json")
    page.get_by_role("button", name="Add rule").click()
    expect(page.locator("#rule-error")).to_contain_text("not JSON")

    page.get_by_role("button", name="Remove flaky").click()
    expect(page.locator("#rules li")).to_have_count(0)
    assert control(server, "GET", "/scenarios")["rules"] == []


def test_a_dream_machine_rule_added_through_the_page_applies_to_generations(
    page: Any, server: LiveServer
) -> None:
    from playwright.sync_api import expect

    rule = {
        "name": "dm-moderation",
        "match": {"dialect": "dream-machine", "prompt_contains": "volcano"},
        "then": {"reject": "forbidden"},
    }
    page.locator("#rule-text").fill(json.dumps(rule))
    page.get_by_role("button", name="Add rule").click()
    shown = page.locator("#rules li")
    expect(shown).to_have_count(1)
    expect(shown.locator(".dialect")).to_have_text("dream-machine")
    refused = server.post(DM_CREATE, {"model": "ray-2", "prompt": "a volcano at night"})
    assert refused.status_code == 403, refused.text
    assert isinstance(refused.json()["detail"], str)  # the dialect's own error shape
    start(server, "a volcano at night")  # the other dialect is left alone
    assert control(server, "GET", "/scenarios")["rules"][0]["matched"] == 1


def test_a_reload_leaves_the_field_being_edited_alone(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    field = page.get_by_label("Rate limit", exact=True)
    field.fill("7/60")  # typed, not yet set; then a reload of the state comes
    page.get_by_label("Token", exact=True).fill("a-long-team-token")
    page.get_by_label("Credits", exact=True).fill("3")
    page.get_by_role("button", name="Set credits").click()
    expect(page.locator("#balances tbody")).to_contain_text("…oken")
    expect(field).to_have_value("7/60")
    page.get_by_role("button", name="Set rate limit").click()
    expect(page.locator("#accounts-error")).to_have_text("")
    # Not being edited, the field follows the fake: set elsewhere, then reloaded.
    control(server, "POST", "/rate-limit", {"limit": "2/60"})
    page.get_by_label("Credits", exact=True).fill("4")
    page.get_by_role("button", name="Set credits").click()
    expect(field).to_have_value("2/60")


def test_credits_rate_limit_and_reset(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.get_by_label("Token", exact=True).fill("a-long-team-token")
    page.get_by_label("Credits", exact=True).fill("1")
    page.get_by_role("button", name="Set credits").click()
    expect(page.locator("#balances tbody")).to_contain_text("…oken")
    headers = {"Authorization": "Bearer a-long-team-token"}
    body = {"prompt": "x", "async": True}
    assert server.post("/luma/videos", body, headers=headers).status_code == 200
    assert server.post("/luma/videos", body, headers=headers).status_code == 403  # used up
    page.get_by_label("Rate limit", exact=True).fill("5/60")
    with page.expect_response(lambda answer: answer.url.endswith("/__admin/rate-limit")) as set_:
        page.get_by_role("button", name="Set rate limit").click()
    assert set_.value.ok
    expect(page.locator("#accounts-error")).to_have_text("")
    assert requests.get(server.url + "/__admin/state", timeout=10).json()["rate_limit"] == "5/60"
    page.get_by_label("Rate limit", exact=True).fill("five")
    page.get_by_role("button", name="Set rate limit").click()
    expect(page.locator("#accounts-error")).not_to_have_text("")

    expect(page.locator("#tasks-table tbody tr")).to_have_count(1)
    page.get_by_role("button", name="Reset").click()
    expect(page.locator("#tasks-table tbody tr")).to_have_count(0)
    expect(page.locator("#balances tbody")).not_to_contain_text("…oken")
    assert control(server, "GET", "/tasks")["total"] == 0


# -- health -------------------------------------------------------------------------------------


def test_the_header_shows_the_health_gauges_as_they_change(page: Any, server: LiveServer) -> None:
    """/health's gauges, read again every few seconds with no notice to prompt it: a
    call held, then answered; a callback to a closed port, under way until it gives up."""
    from playwright.sync_api import expect

    expect(page.locator("#health-uptime")).to_have_text(re.compile(r"^up \d+ "))
    connections = re.compile(r"^\d+ connections? of [\d,]+$")
    expect(page.locator("#health-connections")).to_have_text(connections)
    expect(page.locator("#health-held")).to_have_text("0 calls held")
    held = threading.Thread(  # no async: the call waits for its task
        target=requests.post,
        args=(server.url + "/luma/videos",),
        kwargs={"json": {"prompt": "held"}, "headers": {"Authorization": f"Bearer {TOKEN}"}},
    )
    held.start()
    expect(page.locator("#health-held")).to_have_text("1 call held")
    start(server, "called back", callback_url=CLOSED)
    advance(server, 12)  # both end: the call is answered, the callback is attempted
    held.join(30)
    expect(page.locator("#health-held")).to_have_text("0 calls held")
    expect(page.locator("#health-callbacks")).to_have_text("1 callback under way")
    advance(server, 60)  # past every retry: the delivery has failed
    expect(page.locator("#health-callbacks")).to_have_text("0 callbacks under way")


# -- safety -------------------------------------------------------------------------------------


def test_markup_in_a_prompt_is_shown_as_text(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    prompt = '<img src=x onerror="window.pwned=1"><b id="bold">bold</b>'
    task_id = start(server, prompt)
    cell = row(page, task_id).locator("td.prompt")
    expect(cell).to_have_text(prompt)
    cell.click()
    as_json = prompt.replace('"', '\\"')  # the request, shown as JSON text
    expect(page.locator("#detail pre").nth(1)).to_contain_text(as_json)
    table = page.locator("#journal-table tbody tr").first
    table.click()
    expect(page.locator("#entry")).to_contain_text("onerror")
    assert page.locator("#bold").count() == 0
    assert page.locator("main img[src='x']").count() == 0
    assert page.evaluate("() => window.pwned") is None


def test_with_a_control_token_the_page_asks_once_and_keeps_it_out_of_urls_and_logs(
    browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    config = config_file(tmp_path / "luma-mock.toml", f'control_token = "{CONTROL_TOKEN}"')
    with live_server("--config", config) as guarded:
        context = browser.new_context()
        page = context.new_page()
        page.goto(guarded.url + "/__admin/")
        page.get_by_label("Control token").fill("wrong-token")
        page.get_by_role("button", name="Unlock").click()
        expect(page.locator("#unlock-error")).to_have_text("That control token was refused.")
        page.get_by_label("Control token").fill(CONTROL_TOKEN)
        page.get_by_role("button", name="Unlock").click()
        expect(page.locator("#live-state")).to_have_text("live")
        expect(page.locator("#unlock")).to_be_hidden()
        task_id = start(guarded)
        expect(row(page, task_id)).to_be_visible()  # the live stream bears the token too
        page.reload()  # kept for the session: not asked again
        expect(page.locator("#live-state")).to_have_text("live")
        expect(page.locator("#unlock")).to_be_hidden()
        assert CONTROL_TOKEN not in page.url
        context.close()
        output = guarded.stop()
    assert "/__admin/events" in output
    assert CONTROL_TOKEN not in output


# -- scale, and the picture for the README -------------------------------------------------------


def _pipelined(server: LiveServer, count: int) -> None:
    """``count`` async generate calls on one connection, pipelined (the fake answers
    each in turn), so that ten thousand tasks take seconds, not minutes."""
    body = b'{"prompt": "one of many", "async": true}'
    head = (
        f"POST /luma/videos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        answered = threading.Event()

        def read() -> None:
            seen, tail = 0, b""
            while seen < count:
                data = sock.recv(1 << 16)
                if not data:
                    break
                tail += data
                seen += tail.count(b"HTTP/1.1 200 ")
                tail = tail[-16:]
            answered.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        sock.sendall((head + body) * count)
        assert answered.wait(60), "the fake did not answer every pipelined call"


def test_ten_thousand_tasks_stay_a_page_at_a_time(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    _pipelined(server, 10_000)
    expect(page.locator("#tasks-range")).to_have_text(f"1{DASH}50 of 10,000 tasks")
    expect(page.locator("#tasks-table tbody tr")).to_have_count(50)
    assert page.locator("#timeline-chart g.lane").count() <= 30
    page.get_by_role("button", name="Older").click()
    expect(page.locator("#tasks-range")).to_have_text(f"51{DASH}100 of 10,000 tasks")
    start(server, "the newest")  # still live at this size
    page.get_by_role("button", name="Newer").click()
    expect(page.locator("#tasks-table tbody tr").first).to_contain_text("the newest")
    expect(page.locator("#tasks-range")).to_have_text(f"1{DASH}50 of 10,001 tasks")


def test_a_screenshot_of_a_busy_dashboard_for_the_readme(
    page: Any, server: LiveServer, tmp_path: Path
) -> None:
    """The same data each run — seeded ids (the reset reseeds), the clock moved to a fixed
    time, a fixed viewport, callbacks to a closed port (no receiver's random port in the
    picture); durations, wall-clock measurements, are left blank. Chromium still paints
    the video's first frame a little differently from run to run, so the README's copy is
    rewritten only with LUMA_MOCK_SCREENSHOT=1; otherwise the picture goes to a tmp path."""
    from playwright.sync_api import expect

    advance(server, SHOT_TIME - control(server, "GET", "/clock")["now"])
    control(server, "POST", "/scenarios", MODERATION)
    called = start(server, "Astronauts shuttle from space to the moon", callback_url=CLOSED)
    advance(server, 3)
    failed = start(server, "A paper boat in a storm")
    start_dream(server, "A tiger walking through snow, cinematic")
    advance(server, 4)
    start(server, "Time-lapse of a city at night", colour="blue")
    server.post("/luma/videos", {"prompt": "a volcano erupts"})
    control(server, "POST", f"/tasks/{called}/complete")
    control(server, "POST", f"/tasks/{failed}/fail", {"code": "api_error"})
    advance(server, 1)
    advance(server, 2)
    start_dream(server, "A hummingbird in slow motion")
    expect(page.locator("#tasks-table tbody tr")).to_have_count(5)
    expect(page.locator("#journal-table tbody tr")).to_have_count(CALLS_SHOWN)
    # The media the detail loads would add GETs (ranges, as the browser likes): POSTs only.
    page.locator("#journal-filters").get_by_label("Method").fill("POST")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#journal-table tbody tr")).to_have_count(CALLS_SHOWN)
    row(page, called).get_by_role("cell").nth(3).click()
    expect(page.locator("#detail table.attempts tbody tr")).to_have_count(ATTEMPTS_SHOWN)
    expect(page.locator("#health-callbacks")).to_have_text("1 callback under way")
    # The whole video loaded (no loading spinner over its first frame).
    page.wait_for_function(
        "() => { const v = document.querySelector('#detail video');"
        " return v.readyState === 4 && v.networkState === 1; }"
    )
    page.wait_for_function("() => document.querySelector('#detail img').complete")
    # Blank, and taking no width of their own (a longer one would move the columns).
    page.evaluate(
        """() => document.querySelectorAll(
            '#journal-table tbody td:nth-child(6), #detail .attempts tbody td:nth-child(4)'
        ).forEach((cell) => { cell.style.fontSize = '0'; })"""
    )
    page.mouse.move(0, 0)  # no row under the pointer
    shot = SCREENSHOT if os.environ.get("LUMA_MOCK_SCREENSHOT") == "1" else tmp_path / "shot.png"
    shot.parent.mkdir(exist_ok=True)
    page.screenshot(
        path=str(shot),
        full_page=True,
        animations="disabled",
    )
    assert shot.stat().st_size > 10_000


# -- payments (serve --x402) -------------------------------------------------------------------


def test_a_paid_call_shows_its_payment_in_the_journal(browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from tests.x402_support import Payer, offer, pay

    config = config_file(tmp_path / "luma-mock.toml", "x402 = true")
    with live_server("--config", config) as gateway:
        context = browser.new_context(viewport={"width": 1400, "height": 1100})
        page = context.new_page()
        page.goto(gateway.url + "/__admin/")
        expect(page.locator("#live-state")).to_have_text("live")
        payer = Payer()
        now = control(gateway, "GET", "/clock")["now"]
        assert pay(gateway.url, payer.envelope(offer(gateway.url), now=now)).status_code == 200
        paid = page.locator("#journal-table tbody tr").first
        expect(paid).to_contain_text(f"0.5 USDC settled by {payer.address[:6]}")
        context.close()
