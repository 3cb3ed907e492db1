"""The dashboard in a real browser (fixtures: tests/dashboard_support.py): the tasks
table live with progress, steering a task, its detail with playing media, the clock and
the timeline."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mock_server.harness.receiver import CallbackReceiver
from tests.dashboard_support import advance, control, row, start, start_dream
from tests.support import LiveServer

pytestmark = pytest.mark.browser


# -- tasks --------------------------------------------------------------------------------


def test_tasks_of_both_dialects_appear_live_with_their_progress(
    page: Any, server: LiveServer
) -> None:
    from playwright.sync_api import expect

    ace = start(server, "a calm lake")
    expect(row(page, ace).locator(".state")).to_have_text("pending")  # no reload
    expect(row(page, ace).get_by_role("progressbar")).to_have_attribute("aria-valuenow", "0")
    advance(server, 1)
    dream = start_dream(server, "a tiger at dusk")
    expect(page.locator("#tasks-table tbody tr")).to_have_count(2)
    expect(page.locator("#tasks-table tbody tr").first).to_have_attribute("data-task-id", dream)
    expect(row(page, ace).get_by_role("cell", name="acedata")).to_be_visible()
    expect(row(page, dream).get_by_role("cell", name="dream-machine")).to_be_visible()
    expect(row(page, ace).get_by_role("cell", name="a calm lake")).to_be_visible()

    advance(server, 5)  # 6 of the lake's 12 planned seconds, 5 of the tiger's
    expect(row(page, ace).locator(".state")).to_have_text("processing")
    progress = row(page, ace).get_by_role("progressbar")
    expect(progress).to_have_attribute("aria-valuenow", "50")
    expect(row(page, dream).get_by_role("progressbar")).to_have_attribute("aria-valuenow", "42")
    advance(server, 6)
    expect(row(page, ace).locator(".state")).to_have_text("completed")
    expect(row(page, ace).get_by_role("progressbar")).to_have_count(0)
    expect(row(page, ace).get_by_role("button", name="Complete")).to_have_count(0)
    expect(row(page, dream).get_by_role("progressbar")).to_have_attribute("aria-valuenow", "92")


def test_a_notice_of_a_task_that_has_already_ended_adds_its_row(
    browser: Any, server: LiveServer
) -> None:
    # With instant delays a task is made and ended by one call, and both notices may
    # come in one batch: the first the page hears of it says "completed". The page's
    # own requests are answered from here (an empty first page, then that one notice),
    # so the test does not depend on how the server batches notices.
    from playwright.sync_api import expect

    control(server, "POST", "/reset")
    control(server, "POST", "/delays", {"delay": "instant"})
    try:
        made = start(server, "already done")
    finally:
        control(server, "POST", "/delays", {"delay": {"queue": 2, "generate": 10, "extend": 10}})
    (ended,) = control(server, "GET", "/tasks")["tasks"]
    assert ended["id"] == made and ended["state"] == "completed"
    empty = {"total": 0, "offset": 0, "limit": 50, "now": ended["finished_at"], "tasks": []}
    notice = f"event: task\ndata: {json.dumps(ended)}\n\n"

    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    try:
        page = context.new_page()
        page.route("**/__admin/tasks?*", lambda route: route.fulfill(json=empty))
        page.route(
            "**/__admin/events",
            lambda route: route.fulfill(content_type="text/event-stream", body=notice),
        )
        page.goto(server.url + "/__admin/")
        expect(row(page, made).locator(".state")).to_have_text("completed")
        expect(page.locator("#tasks-table tbody tr")).to_have_count(1)
        chart = page.get_by_role("img", name="Timeline of recent tasks")
        expect(chart.locator(f'g[data-task-id="{made}"] rect.completed')).to_have_count(1)
    finally:
        context.close()


def test_complete_and_fail_with_a_chosen_code_from_the_row(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    done, failed = start(server, "first"), start(server, "second")
    expect(row(page, failed)).to_be_visible()
    row(page, done).get_by_role("button", name="Complete").click()
    expect(row(page, done).locator(".state")).to_have_text("completed")
    row(page, failed).get_by_role("combobox").select_option("forbidden")
    row(page, failed).get_by_role("button", name="Fail").click()
    expect(row(page, failed).locator(".state")).to_have_text("failed")
    expect(row(page, failed).get_by_role("cell", name="failed forbidden")).to_be_visible()
    view = control(server, "GET", f"/tasks/{failed}")
    assert view["state"] == "failed" and view["record"]["response"]["error"]["code"] == "forbidden"
    assert control(server, "GET", f"/tasks/{done}")["state"] == "completed"


def test_a_page_of_tasks_older_than_a_notice_does_not_undo_it(
    page: Any, server: LiveServer
) -> None:
    """The page and the event stream come on two connections: a page of tasks asked for
    before a task failed can land after the task's notice. The notice must win."""
    from playwright.sync_api import expect

    task_id = start(server, "raced")
    asked: list[Any] = []
    held: list[Any] = []

    def hold_the_second(route: Any) -> None:
        asked.append(route)
        if len(asked) == 1:  # the page's first load: let it through
            route.continue_()
            return
        # The reload after the stream's hello: its answer is taken while the task is
        # still pending; then the task fails, and its notice reaches the page first.
        held.append((route, route.fetch()))
        control(server, "POST", f"/tasks/{task_id}/fail", {"code": "api_error"})

    # Leave the page first, so no request of the old one (a refresh it had pending when
    # the task was made) is routed and counted as the new page's first load.
    dashboard = page.url
    page.goto("about:blank")
    page.route("**/__admin/tasks?*", hold_the_second)
    page.goto(dashboard)
    state = row(page, task_id).locator(".state")
    expect(state).to_have_text("failed")  # the notice, while the older page is held
    table = page.locator("#tasks-table")
    expect(table).to_have_attribute("aria-busy", "true")
    route, answer = held[0]
    assert '"state":"pending"' in answer.text().replace(" ", "")
    route.fulfill(response=answer)
    expect(table).to_have_attribute("aria-busy", "false")  # the older page is drawn
    expect(state).to_have_text("failed")
    expect(row(page, task_id).get_by_role("button", name="Fail")).to_have_count(0)


def test_a_notice_about_another_task_leaves_a_row_being_steered_alone(
    page: Any, server: LiveServer
) -> None:
    from playwright.sync_api import expect

    steered = start(server, "steered")
    choice = row(page, steered).get_by_role("combobox")
    choice.select_option("forbidden")
    element = choice.element_handle()
    advance(server, 1)
    other = start(server, "another")
    expect(page.locator("#tasks-table tbody tr").first).to_have_attribute("data-task-id", other)
    assert element.evaluate("e => e.isConnected")  # the same element, not a redrawn one
    expect(choice).to_have_value("forbidden")


def test_a_rows_detail_shows_record_request_answer_callbacks_and_playing_media(
    page: Any, server: LiveServer
) -> None:
    from playwright.sync_api import expect

    with CallbackReceiver() as receiver:
        receiver.answer(500)  # the first attempt fails, the retry a second later lands
        task_id = start(server, "a lighthouse", callback_url=receiver.url)
        row(page, task_id).get_by_role("cell", name="a lighthouse").click()
        detail = page.locator("#detail")
        expect(detail.get_by_role("heading", name=f"Task {task_id}")).to_be_visible()
        expect(detail.get_by_text("none yet")).to_be_visible()
        row(page, task_id).get_by_role("button", name="Complete").click()
        attempts = detail.locator("table.attempts tbody tr")
        # The page's click and the 500 answer are both on their way: the retry is planned
        # a second after that answer, so the clock moves only once the page shows it.
        expect(attempts).to_have_count(1)
        advance(server, 1)
        receiver.wait_for(task_id)
        expect(attempts).to_have_count(2)
        expect(attempts.nth(0)).to_contain_text("500")
        expect(attempts.nth(1)).to_contain_text("200")
        expect(attempts.nth(1)).to_contain_text(" ms")
    for heading in ("Record", "Request", "Answer", "Callback deliveries", "Media"):
        expect(detail.get_by_role("heading", name=heading)).to_be_visible()
    expect(detail.locator("pre").nth(1)).to_contain_text(receiver.url)  # the request
    expect(detail.locator("pre").nth(2)).to_contain_text(task_id)  # the answer

    video = detail.locator("video")
    video.evaluate("v => v.play()")
    page.wait_for_function("() => document.querySelector('#detail video').currentTime > 0")
    size = video.evaluate("v => [v.videoWidth, v.videoHeight]")
    record = control(server, "GET", f"/tasks/{task_id}")["record"]["response"]
    assert size == [record["video_width"], record["video_height"]]
    thumbnail = detail.get_by_role("img", name="thumbnail")
    page.wait_for_function("() => document.querySelector('#detail img').naturalWidth > 0")
    assert thumbnail.evaluate("i => i.naturalWidth") > 0


# -- the clock ----------------------------------------------------------------------------


def test_the_clock_moves_with_seconds_and_advance(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    task_id = start(server)
    before = control(server, "GET", "/clock")["now"]
    shown = page.locator("#clock-time").text_content()
    page.get_by_label("Seconds").fill("3")
    page.get_by_role("button", name="Advance").click()
    expect(page.locator("#clock-time")).not_to_have_text(shown or "")
    assert control(server, "GET", "/clock")["now"] == before + 3
    expect(row(page, task_id).locator(".state")).to_have_text("processing")
    expect(row(page, task_id).get_by_role("progressbar")).to_have_attribute("aria-valuenow", "25")


# -- the timeline -----------------------------------------------------------------------------


def test_the_timeline_draws_states_and_callback_attempts(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    with CallbackReceiver() as receiver:
        receiver.answer(500)
        called = start(server, "with a callback", callback_url=receiver.url)
        failed = start(server, "to fail")
        waiting = start(server, "still queued")
        control(server, "POST", f"/tasks/{called}/complete")
        control(server, "POST", f"/tasks/{failed}/fail", {"code": "api_error"})
        advance(server, 1)
        receiver.wait_for(called)
    chart = page.get_by_role("img", name="Timeline of recent tasks")
    lane = chart.locator(f'g[data-task-id="{called}"]')
    expect(lane.locator("circle.callback")).to_have_count(2)
    expect(lane.locator("circle.callback.missed")).to_have_count(1)
    expect(lane.locator("rect.completed")).to_have_count(1)
    expect(chart.locator(f'g[data-task-id="{failed}"] rect.failed')).to_have_count(1)
    expect(chart.locator(f'g[data-task-id="{waiting}"] rect.pending')).to_have_count(1)
    expect(chart.locator(f'g[data-task-id="{waiting}"] rect.processing')).to_have_count(0)
