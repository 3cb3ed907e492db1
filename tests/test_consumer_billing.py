"""The consumer suite's billing check, `one-bill-per-call`: a call that may pay for two
videos fails it — posting twice, or retrying blindly after a lost answer — while a retry
after an answer that says no task was made (429, 500) passes, in every case of the suite.

One fake (`luma-mock serve`, manual clock) serves the module; the suite resets it before
every example.
"""

from __future__ import annotations

import pytest

from contract_tests.checks.client_calls import BillingRisk, Seen
from contract_tests.consumer import FakeControl, run_consumer_suite
from tests import broken_clients
from tests.broken_clients import TIMEOUT, suite


def test_a_client_that_posts_twice_fails_every_case_it_bills_in(fake_url: str) -> None:
    # Each flow, a held task included, and both extends: two videos per call; and a
    # dribbled answer, which arrives whole (slowly).
    report = suite(broken_clients.posts_twice, fake_url, "")

    failed = {r.name for r in report.results if not r.ok}
    flows = {r.name for r in report.results if r.kind == "flow"}
    assert failed == {*flows, "generate: fault dribble"} and len(flows) == 5, report.render()
    assert report.failed_checks() == {"one-bill-per-call"}
    assert not report.risks  # each second post came after an answer that made a task
    # An error or a lost answer stops it after one post (nothing to pay for twice);
    # retrieve never posts.
    assert report.tally()["one-bill-per-call"] == (len(report.results) - 6, 6, 0)
    first = report.failures[0]
    assert first.actual.startswith("1. 200 (task ") and "; 2. 200 (task " in first.actual


def test_a_blind_retry_after_a_lost_answer_bills_twice_a_retried_retrieve_does_not(
    fake_url: str,
) -> None:
    report = suite(broken_clients.retries_after_reset, fake_url, "fault")

    failed = {r.name: {f.check for f in r.failures} for r in report.results if not r.ok}
    assert failed == {
        "generate: fault reset": {"one-bill-per-call"},
        "generate: fault empty": {"one-bill-per-call"},
    }, report.render()
    # Blind retries after a lost answer: billing risks, apart from the contract's breaks.
    assert {r.name for r in report.results if r.risks} == set(failed)
    assert all(isinstance(f, BillingRisk) for f in report.failures)
    actual = next(f for f in report.failures if "empty" in f.title).actual
    assert actual == "1. the answer was lost (empty); 2. the answer was lost (empty)"
    # It did retry the retrieves too, and that costs nothing.
    assert {r.name for r in report.results if r.ok} >= {
        "retrieve: fault reset",
        "retrieve: fault empty",
    }


@pytest.mark.parametrize(("only", "status"), [("generate: 429", 429), ("generate: 500", 500)])
def test_a_retry_after_an_answer_that_made_no_task_is_not_a_second_bill(
    fake_url: str, only: str, status: int
) -> None:
    report = suite(broken_clients.retries_refusals, fake_url, only)

    assert report.ok, report.render()
    assert report.tally()["one-bill-per-call"] == (1, 0, 0)
    # It really retried: the journal of the (last, only) example holds three refusals.
    sent = [s for s in FakeControl(fake_url).journal() if s.path == "/luma/videos"]
    assert [s.status for s in sent] == [status] * 3
    assert not [s for s in sent if s.may_bill]


def test_a_client_that_retries_on_its_own_passes_every_generate_case(fake_url: str) -> None:
    report = suite(broken_clients.retries_refusals, fake_url, "generate")

    assert report.ok, report.render()


def test_a_retry_after_a_504_is_a_second_bill(fake_url: str) -> None:
    # The task of a synchronous call that timed out goes on: a retry starts another.
    report = suite(broken_clients.retries_after_504, fake_url, "generate: 504")

    assert [f.check for f in report.failures] == ["one-bill-per-call"], report.render()
    assert report.failures[0].actual == "1. 504; 2. 504; 3. 504"
    assert not report.risks  # a 504 is an answer: the retry is a break, not a risk


def test_a_billing_risk_only_warns_when_told(fake_url: str) -> None:
    report = run_consumer_suite(
        broken_clients.retries_after_reset,
        fake_url=fake_url,
        client_timeout=TIMEOUT,
        billing_risk="warn",
        only=lambda case: "generate: fault" in case.name,
    )

    assert report.ok, report.render()
    assert {r.name for r in report.results if r.risks} == {
        "generate: fault reset",
        "generate: fault empty",
    }
    assert "2 billing risk(s) (reported, not failed)" in report.render()


def test_what_may_bill() -> None:
    ok = {"schema": "acedata/videos-request", "ok": True, "problems": [], "unknown_fields": []}
    bad = {**ok, "ok": False}

    def seen(status: int | None, answer: object = None, **more: object) -> Seen:
        return Seen("POST", "/luma/videos", {"prompt": "x"}, more.pop("verdict", ok), status,
                    answer, **more)  # type: ignore[arg-type]  # fmt: skip

    assert seen(200, {"task_id": "t"}).may_bill
    assert seen(200, {"task_id": "t"}, fault="reset").may_bill  # lost: cannot know
    assert seen(None).may_bill  # still held: its task is being made
    assert seen(504).may_bill  # a timed-out synchronous call's task goes on
    assert seen(403, {"task_id": "t", "error": {}}).may_bill  # names the task it made
    for status in (401, 403, 404, 429, 500, 502, 503):
        assert not seen(status, {"error": {"code": "x"}}).may_bill, status
    assert not seen(200, verdict=bad).may_bill  # refused by validation
    assert not seen(429, rule="proxy-cap").may_bill  # never forwarded
    retrieve = Seen("POST", "/luma/tasks", {"action": "retrieve"}, ok, 200, {"id": "t"})
    assert not retrieve.may_bill
