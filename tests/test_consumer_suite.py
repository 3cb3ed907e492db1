"""The consumer suite: the reference client keeps every check; clients broken in one way
each fail the check that names their defect, with expected, actual and a reproduction.

One fake (`luma-mock serve`, manual clock) serves the module; the suite resets it
before every example. The full runs start a fake of their own, as users do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from contract_tests.acedata.adapters import RequestsAdapter
from contract_tests.acedata.client import CHECKS as CONSUMER_CHECKS
from contract_tests.acedata.client import finished_signs, problem
from contract_tests.acedata.consumer import OPERATIONS, shape
from contract_tests.checks.client_calls import BillingRisk
from contract_tests.consumer import (
    FakeControl,
    run_against_real_service,
    run_consumer_suite,
)
from contract_tests.consumer.adapters import describe_call, load_factory, operations
from tests import broken_clients
from tests.broken_clients import TIMEOUT, suite
from tests.support import TOKEN, live_server

ROOT = Path(__file__).resolve().parent.parent


def test_the_reference_client_keeps_every_check() -> None:
    report = run_consumer_suite(broken_clients.reference, client_timeout=TIMEOUT)

    assert report.ok, report.render()
    tally = report.tally()
    assert set(tally) == set(CONSUMER_CHECKS)
    for name, (passed, failed, skipped) in tally.items():
        assert passed > 0 and failed == 0 and skipped == 0, (name, tally[name])
    assert report.warnings == []
    names = [r.name for r in report.results]
    assert "generate: 429 too_many_requests" in names and "retrieve: fault hang" in names
    assert "all checks hold" in report.render()


class SdkAdapter:
    """The README's adapter for the provider's SDK (acedatacloud), with a short timeout."""

    def __init__(self, base_url: str, token: str) -> None:
        from acedatacloud import AceDataCloud

        self.client = AceDataCloud(
            api_token=token, base_url=base_url, timeout=TIMEOUT, max_retries=0
        )

    def generate(self, **fields: object) -> object:
        return self._submit(fields)

    def extend(self, **fields: object) -> object:
        return self._submit({"action": "extend", **fields})

    def retrieve(self, task_id: str) -> object:
        return self.client.tasks.get(task_id, service="luma")

    def _submit(self, fields: dict[str, object]) -> object:
        if "async" in fields:
            fields["async_"] = fields.pop("async")
        handle = self.client.luma.generate(**fields)  # type: ignore[arg-type]
        finished = handle.result()
        return finished["response"] if finished else {"task_id": handle.id}

    def close(self) -> None:
        self.client.close()


def test_the_providers_sdk_keeps_every_check(fake_url: str) -> None:
    pytest.importorskip("acedatacloud")
    report = run_consumer_suite(SdkAdapter, fake_url=fake_url, client_timeout=TIMEOUT)

    assert report.ok, report.render()
    assert report.warnings == []  # every field it sends is in the contract


class SendsNulls(RequestsAdapter):
    """The provider's MCP server's way: every optional field the caller did not set goes
    out as null. That keeps the contract (null is "not given")."""

    OPTIONAL = ("aspect_ratio", "loop", "enhancement", "timeout", "callback_url")

    def __init__(self, base_url: str, token: str) -> None:
        super().__init__(base_url, token, timeout=TIMEOUT)
        self.nulls_sent = 0

    def _post(self, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        if path == "/luma/videos":
            unset = {name: None for name in self.OPTIONAL if name not in body}
            self.nulls_sent += len(unset)
            body = {**unset, **body}
        return super()._post(path, body, timeout)


def test_a_client_that_sends_unset_fields_as_null_keeps_the_contract(fake_url: str) -> None:
    made: list[SendsNulls] = []

    def factory(base_url: str, token: str) -> SendsNulls:
        made.append(SendsNulls(base_url, token))
        return made[-1]

    report = suite(factory, fake_url, "generate")
    assert report.ok, report.render()
    assert report.warnings == []
    assert sum(client.nulls_sent for client in made) > 0


@pytest.mark.parametrize(
    ("client", "only", "check", "words"),
    [
        ("ignores_429", "429", "raises-on-error", "returned on a 429 too_many_requests answer"),
        ("success_on_500", "500", "raises-on-error", "returned on a 500 api_error answer"),
        ("invalid_aspect_ratio", "generate (sync)", "request-conforms", "aspect_ratio"),
        ("drops_callback_url", "generate (callback_url)", "callback-url-sent", "did not send"),
        ("early_completion", "async", "no-early-completion", "reported a processing task"),
        ("swallows_reset", "fault reset", "raises-on-fault", "(reset)"),
        ("wrong_task_id", "generate (sync)", "task-id-matches", "but the service answered"),
        ("extends_a_stale_video", "extend", "fields-sent", "video_id"),
        ("posts_twice", "generate (sync)", "one-bill-per-call", "sent 2 billable"),
        ("retries_after_reset", "generate: fault reset", "one-bill-per-call", "after the reset"),
    ],
)
def test_a_broken_client_fails_the_check_that_names_its_defect(
    fake_url: str, client: str, only: str, check: str, words: str
) -> None:
    report = suite(getattr(broken_clients, client), fake_url, only)

    assert not report.ok
    first = report.failures[0]
    assert first.check == check, report.render()
    assert words in first.title, first.title
    assert first.expected and first.actual
    # How to reproduce: the fake's set-up, the adapter call and what the client sent.
    assert "adapter." in first.reproduce and "# the client sent: curl" in first.reproduce
    rendered = report.render()
    # A blind retry after a lost answer is a billing risk, shown apart from the breaks.
    risk = client == "retries_after_reset"
    assert isinstance(first, BillingRisk) == risk
    heading = "BILLING RISK" if risk else "FAILED"
    assert f"{heading} {check}" in rendered and "expected:" in rendered
    assert "reproduce:" in rendered


def test_a_client_that_ignores_429_fails_on_every_operation(fake_url: str) -> None:
    report = suite(broken_clients.ignores_429, fake_url, "429")

    failed = {r.name for r in report.results if not r.ok}
    assert failed == {
        "generate: 429 too_many_requests",
        "extend: 429 too_many_requests",
        "retrieve: 429 too_many_requests",
    }
    assert report.failed_checks() == {"raises-on-error"}


def test_a_wrong_task_id_is_also_a_different_answer(fake_url: str) -> None:
    report = suite(broken_clients.wrong_task_id, fake_url, "generate (sync)")

    assert [f.check for f in report.failures] == ["task-id-matches", "answer-returned"]
    assert 'task_id "' in report.failures[1].title  # the two ids, old → new


def test_flows_shrink_to_a_small_request(fake_url: str) -> None:
    # Hypothesis shrinks the failing request; the minimal one has no optional fields.
    report = suite(broken_clients.invalid_aspect_ratio, fake_url, "generate (sync)")

    reproduce = report.failures[0].reproduce
    call = next(line for line in reproduce.splitlines() if line.startswith("adapter."))
    assert call.startswith("adapter.generate(prompt=") and "start_image_url" not in call
    assert '"aspect_ratio": "16x9"' in reproduce  # in the curl line of what was sent


def test_a_client_without_a_read_timeout_fails_on_a_hang(fake_url: str) -> None:
    report = suite(broken_clients.NoTimeout, fake_url, "generate: fault hang")

    assert [f.check for f in report.failures] == ["raises-on-fault"]
    assert "still waiting" in report.failures[0].title


def test_unknown_fields_are_warnings_not_failures(fake_url: str) -> None:
    report = suite(broken_clients.SendsModel, fake_url, "generate (sync)")

    assert report.ok, report.render()
    assert report.warnings == [
        "POST /luma/videos sends field(s) the contract does not know: model "
        "(the service ignores them)"
    ]
    assert "warnings:" in report.render()


def test_missing_methods_skip_their_checks(fake_url: str) -> None:
    adapter = broken_clients.GenerateOnly("http://127.0.0.1:1", "t")
    assert operations(adapter, OPERATIONS) == ("generate",)

    report = suite(broken_clients.GenerateOnly, fake_url, "429")
    assert report.ok
    skipped = {r.name: r.skipped for r in report.results if r.skipped}
    assert skipped == {
        "extend: 429 too_many_requests": "the adapter has no extend()",
        "retrieve: 429 too_many_requests": "the adapter has no retrieve()",
    }
    assert report.tally()["raises-on-error"] == (1, 0, 2)


def test_a_running_fake_is_reused_and_left_reset(fake_url: str) -> None:
    report = suite(broken_clients.reference, fake_url, "generate (sync)")
    assert report.ok and report.target == fake_url
    # The suite reset the fake before each example; its journal holds only the last one.
    journal = FakeControl(fake_url).journal()
    assert 1 <= len(journal) <= 2


def test_finished_signs_read_records_and_results() -> None:
    running = {"id": "t", "response": {"task_id": "t", "state": "processing"}}
    assert finished_signs(running) == []
    assert finished_signs({"id": "t", "state": "succeeded"}) == ["state is 'succeeded'"]
    assert finished_signs({"response": {"success": True, "video_url": "https://x.test/v"}}) == [
        "response.success is true",
        "response.video_url is 'https://x.test/v'",
    ]


def test_describe_call_reads_as_python() -> None:
    def describe(operation: str, fields: dict[str, Any]) -> str:  # as a report shows a call
        made = shape(operation, fields)
        return describe_call(operation, made.args, made.kwargs)

    call = describe("generate", {"prompt": "a cat", "async": True})
    assert call == "adapter.generate(prompt='a cat', **{'async': True})"
    assert describe("retrieve", {"task_id": "abc"}) == "adapter.retrieve('abc')"


def test_load_factory_reads_module_colon_name() -> None:
    assert load_factory("tests.broken_clients:reference") is broken_clients.reference
    with pytest.raises(ValueError, match="MODULE:FACTORY"):
        load_factory("tests.broken_clients")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mock_server.cli", "verify-client", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_verify_client_exits_0_when_every_check_holds() -> None:
    done = run_cli("tests.broken_clients:reference", "--client-timeout", str(TIMEOUT))

    assert done.returncode == 0, done.stdout + done.stderr
    assert "  ok   generate (sync)" in done.stdout
    assert "all checks hold" in done.stdout
    assert "check                  passed  failed  skipped" in done.stdout


def test_verify_client_exits_1_and_lists_the_failures() -> None:
    done = run_cli("tests.broken_clients:ignores_429", "--client-timeout", "0.5", "-k", "429")

    assert done.returncode == 1, done.stdout + done.stderr
    assert "  FAIL generate: 429 too_many_requests" in done.stdout
    assert "FAILED raises-on-error — generate: 429 too_many_requests" in done.stdout
    assert "reproduce:" in done.stdout


def test_verify_client_exits_2_when_the_factory_cannot_be_loaded() -> None:
    done = run_cli("tests.no_such_module:factory")

    assert done.returncode == 2
    assert "cannot load tests.no_such_module:factory" in done.stderr


def test_the_real_service_run_rehearsed_on_a_fake_behind_the_proxy() -> None:
    # The same code path as against the real service — the client talks to a capped
    # validating proxy and the checks read the proxy's records — with a fake (that takes
    # only the test token) as the target, so nothing leaves this machine.
    with live_server("--delay", "instant", "--token", TOKEN) as fake:
        report = run_against_real_service(
            broken_clients.reference, TOKEN, target=fake.url, max_billable=2
        )
        forwarded = fake.session.get(fake.url + "/__admin/journal", timeout=10).json()["entries"]

    assert report.ok, report.render()
    assert [r.name for r in report.results] == [
        "generate (async), then retrieve",
        "retrieve: an unknown task",
        "generate: a wrong token",
    ]
    assert report.tally()["raises-on-error"] == (2, 0, 0)
    assert report.warnings == []
    # One generation with the good token, one refused with the wrong one: both forwarded.
    assert [e["status"] for e in forwarded if e["path"] == "/luma/videos"] == [200, 401]


def test_the_real_service_run_stops_at_the_billable_cap() -> None:
    with live_server("--delay", "instant", "--token", TOKEN) as fake:
        report = run_against_real_service(
            broken_clients.reference, TOKEN, target=fake.url, max_billable=0
        )
    # Nothing billable reaches the service; the report says what went unchecked.
    assert report.warnings == [
        "generate: the proxy's billable cap held a request back, so what the service "
        "would answer was not checked (raise max_billable)"
    ]


@pytest.mark.skipif(
    not os.environ.get("LUMA_MOCK_REAL_TOKEN"),
    reason="reaches the real service and costs credits: set LUMA_MOCK_REAL_TOKEN to run",
)
def test_the_reference_client_against_the_real_service() -> None:
    report = run_against_real_service(
        RequestsAdapter.factory(timeout=60),
        os.environ["LUMA_MOCK_REAL_TOKEN"],
        max_billable=int(os.environ.get("LUMA_MOCK_MAX_BILLABLE", "2")),
    )
    assert report.ok, report.render()


def test_an_unasked_404_on_videos_is_a_refusal_but_not_on_tasks() -> None:
    from contract_tests.checks.client import Seen

    ok = {"schema": "acedata/videos-request", "ok": True, "problems": [], "unknown_fields": []}
    unknown_video = {"error": {"code": "not_found", "message": "video_id: no video 'x'"}}
    extend = Seen("POST", "/luma/videos", {"action": "extend"}, ok, 404, unknown_video)
    assert "refused it: 404" in (problem(extend) or "")
    assert problem(extend, refusal_expected=True) is None
    retrieve = Seen("POST", "/luma/tasks", {"action": "retrieve"}, ok, 404, unknown_video)
    assert problem(retrieve) is None  # an unknown task is an answer, not a refusal


@pytest.mark.parametrize("dialect", ["acedata", "dream-machine"])
def test_each_dialect_provides_what_the_consumer_suite_asks(dialect: str) -> None:
    # The generic suite reaches a dialect only through these three modules; a dialect
    # that lacks a name they list would break at run time, deep in a case.
    from contract_tests.consumer import (
        ClientRules,
        ConsumerDialect,
        ProxyVerdicts,
        client_of,
        consumer_of,
        verdicts_of,
    )

    for protocol, module in (
        (ConsumerDialect, consumer_of(dialect)),
        (ClientRules, client_of(dialect)),
        (ProxyVerdicts, verdicts_of(dialect)),
    ):
        wanted = {n for n in vars(protocol) if not n.startswith("_")}
        wanted |= set(getattr(protocol, "__annotations__", {}))
        missing = {n for n in wanted if not hasattr(module, n)}
        assert not missing, (protocol.__name__, module.__name__, missing)
    rules = client_of(dialect)
    assert set(rules.CHECKS) >= {"request-sent", "one-bill-per-call", "raises-on-fault"}
    from contract_tests.checks import REGISTRY

    assert REGISTRY["one-bill-per-call"].dialects is None  # every dialect, later ones too


@pytest.mark.parametrize("dialect", ["acedata", "dream-machine"])
def test_every_dialect_plays_every_fault_and_cli_refuses_an_unknown_factory(
    dialect: str,
) -> None:
    from contract_tests.consumer import FAULTS, consumer_of

    names = {case.name for case in consumer_of(dialect).cases()}
    played = {kind for kind in FAULTS if any(n.endswith(f": fault {kind}") for n in names)}
    assert played == set(FAULTS)
    done = run_cli("tests.no_such_module:factory", "--dialect", dialect)
    assert done.returncode == 2 and "cannot load" in done.stderr


def test_a_call_past_its_bound_hands_back_its_thread_to_be_joined() -> None:
    import threading

    from contract_tests.consumer import bounded

    release = threading.Event()
    returned, raised, straggler = bounded(release.wait, (10,), {}, 0.05)
    assert (returned, raised) == (None, None)
    assert straggler is not None and straggler.is_alive()  # still the caller's to join
    release.set()
    straggler.join(10)
    assert not straggler.is_alive()
    assert bounded(lambda: 1, (), {}, 10) == (1, None, None)
    broken = ValueError("refused")

    def refuse() -> None:
        raise broken

    assert bounded(refuse, (), {}, 10) == (None, broken, None)
