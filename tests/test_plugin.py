"""The pytest plugin, run as users run it: in pytester sessions of their own."""

from __future__ import annotations

import textwrap

import pytest

from tests.support import live_server

NO_OTHER_PLUGINS = ("-p", "no:schemathesis", "-p", "no:cacheprovider")


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_user=textwrap.dedent(source))
    return pytester.runpytest_subprocess(*NO_OTHER_PLUGINS, *args)


def test_a_session_that_uses_no_fixture_imports_nothing(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import sys

        def test_nothing_heavy_was_imported():
            loaded = [m for m in ("flask", "mock_server", "contract_tests.plugin.fakes", "gevent")
                      if m in sys.modules]
            assert loaded == []
            assert "contract_tests.plugin" in sys.modules
        """,
    )
    result.assert_outcomes(passed=1)


def test_luma_fake_luma_clock_and_the_marker(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest

        def test_instant_by_default(luma_fake):
            client = luma_fake.client()
            answer = client.post("/luma/videos", json={"prompt": "a cat"},
                                 headers=luma_fake.headers).get_json()
            assert answer["state"] == "completed"
            assert answer["video_url"].startswith("http://luma-mock.test/luma/")

        @pytest.mark.luma(delay=30)
        def test_time_moves_only_when_told(luma_fake, luma_clock):
            client = luma_fake.client()
            task_id = client.post("/luma/videos", json={"prompt": "x", "async": True},
                                  headers=luma_fake.headers).get_json()["task_id"]
            assert luma_fake.task(task_id)["state"] == "processing"
            luma_clock.advance(30)
            assert luma_fake.task(task_id)["state"] == "completed"
            assert luma_fake.journal.entries(task_id=task_id)[0]["status"] == 200

        @pytest.mark.luma(scenarios=[{"then": {"reject": "used_up"}}], tokens=["mine"])
        def test_scenarios_and_tokens(luma_fake):
            assert luma_fake.token == "mine"
            answer = luma_fake.client().post("/luma/videos", json={"prompt": "x"},
                                             headers=luma_fake.headers)
            assert answer.status_code == 403
        """,
    )
    result.assert_outcomes(passed=3)


def test_luma_responses_and_the_callback_receiver(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import requests

        def test_requests_answered_in_process(luma_responses, luma_callback_receiver):
            fake = luma_responses
            for base in (fake.url, "https://api.acedata.cloud"):
                answer = requests.post(base + "/luma/videos", json={"prompt": "x"},
                                       headers=fake.headers).json()
                assert answer["video_url"].startswith(base)
                video = requests.get(answer["video_url"])
                assert video.headers["content-type"] == "video/mp4"
            accepted = requests.post(
                fake.url + "/luma/videos",
                json={"prompt": "x", "callback_url": luma_callback_receiver.url},
                headers=fake.headers,
            ).json()
            body = luma_callback_receiver.wait_for(accepted["task_id"])
            assert body["state"] == "completed"

        def test_faults_become_requests_exceptions(luma_responses):
            import pytest
            luma_responses.scenarios.add({"then": {"fault": "reset"}, "times": 1})
            with pytest.raises(requests.ConnectionError):
                requests.post(luma_responses.url + "/luma/videos", json={"prompt": "x"},
                              headers=luma_responses.headers)
        """,
    )
    result.assert_outcomes(passed=2)


def test_luma_httpx_transport(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import httpx

        def test_httpx_answered_in_process(luma_fake, luma_httpx_transport):
            with httpx.Client(transport=luma_httpx_transport, base_url=luma_fake.url) as c:
                task_id = c.post("/luma/videos", json={"prompt": "x", "async": True},
                                 headers=luma_fake.headers).json()["task_id"]
                record = c.post("/luma/tasks", json={"action": "retrieve", "id": task_id},
                                headers=luma_fake.headers).json()
            assert record["response"]["state"] == "completed"
        """,
    )
    result.assert_outcomes(passed=1)


def test_luma_server_is_shared_and_reset_between_tests(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest, requests

        urls = []

        @pytest.mark.parametrize("turn", range(3))
        def test_each_test_starts_clean(luma_server, turn):
            urls.append(luma_server.url)
            assert luma_server.journal.entries() == []
            requests.post(luma_server.url + "/luma/videos", json={"prompt": "x"},
                          headers=luma_server.headers, timeout=10).raise_for_status()
            assert len(set(urls)) == 1  # one server for the session

        REFUSE = {"match": {"scenario": "no"}, "then": {"reject": "forbidden"}}

        @pytest.mark.luma(clock="manual", delay=60, scenarios=[REFUSE])
        def test_marker_configures_the_server(luma_server):
            assert luma_server.url not in urls  # a manual clock needs a server of its own
            headers = {**luma_server.headers, "X-Luma-Mock-Scenario": "no"}
            refused = requests.post(luma_server.url + "/luma/videos", json={"prompt": "x"},
                                    headers=headers, timeout=10)
            assert refused.status_code == 403
            task_id = requests.post(luma_server.url + "/luma/videos",
                                    json={"prompt": "x", "async": True},
                                    headers=luma_server.headers, timeout=10).json()["task_id"]
            luma_server.advance(61)
            assert luma_server.wait_for_state(task_id, "completed")["state"] == "completed"
        """,
    )
    result.assert_outcomes(passed=4)


def test_luma_target_points_luma_server_elsewhere(pytester: pytest.Pytester) -> None:
    source = """
        import requests

        def test_against_the_target(luma_server, pytestconfig):
            # Clients talk to the target through the plugin's validating proxy.
            assert luma_server.target == pytestconfig.getoption("luma_target")
            assert luma_server.url != luma_server.target
            assert luma_server.token == "given-token"
            answer = requests.post(luma_server.url + "/luma/videos",
                                   json={"prompt": "x", "async": True},
                                   headers=luma_server.headers, timeout=10)
            assert answer.status_code == 200
            assert luma_server.max_billable == 3
    """
    with live_server("--delay", "instant", "--token", "given-token") as server:
        result = run(
            pytester,
            source,
            f"--luma-target={server.url}",
            "--luma-token=given-token",
            "--luma-max-billable=3",
        )
    result.assert_outcomes(passed=1)


def test_a_target_without_a_control_api_skips_control_calls(pytester: pytest.Pytester) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class NotAFake(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    other = ThreadingHTTPServer(("127.0.0.1", 0), NotAFake)
    Thread(target=other.serve_forever, daemon=True).start()
    try:
        result = run(
            pytester,
            """
            def test_needs_control(luma_server):
                luma_server.advance(10)
            """,
            f"--luma-target=http://127.0.0.1:{other.server_address[1]}",
        )
    finally:
        other.shutdown()
        other.server_close()
    result.assert_outcomes(skipped=1)


def test_safe_under_xdist(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import os, pytest, requests

        @pytest.mark.parametrize("n", range(4))
        def test_each_worker_has_its_own_fake(luma_server, n):
            worker = os.environ.get("PYTEST_XDIST_WORKER")
            assert worker is not None
            requests.post(luma_server.url + "/luma/videos", json={"prompt": worker},
                          headers=luma_server.headers, timeout=10).raise_for_status()
            entries = luma_server.journal.entries(path="/luma/videos")
            prompts = {e["body"]["prompt"] for e in entries}
            assert prompts == {worker}
        """,
        "-n",
        "2",
    )
    result.assert_outcomes(passed=4)


def test_hypothesis_profiles_are_registered(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        from hypothesis import given, settings, strategies as st

        @given(st.integers())
        def test_profile_in_force(n):
            assert settings().derandomize is True
        """,
        "--hypothesis-profile=luma-ci",
    )
    result.assert_outcomes(passed=1)


def test_a_bad_marker_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest

        @pytest.mark.luma(colour="red")
        def test_x(luma_server):
            pass
        """,
    )
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*unknown @pytest.mark.luma setting*colour*"])


def test_luma_contract_runs_both_suites_on_the_fake(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        from contract_tests.acedata.adapters import RequestsAdapter

        def test_the_fake_keeps_the_contract(luma_contract):
            result = luma_contract.verify(max_examples=5, stateful=False)
            assert result.ok

        def test_the_reference_client_keeps_it_too(luma_contract):
            report = luma_contract.verify_client(RequestsAdapter.factory(timeout=2),
                                                 client_timeout=2)
            assert report.ok
        """,
        "--junitxml=report.xml",
    )
    result.assert_outcomes(passed=2)
    junit = (pytester.path / "report.xml").read_text()
    assert "test_the_fake_keeps_the_contract" in junit and 'failures="0"' in junit


def test_luma_contract_fails_with_the_report_on_a_broken_target(
    pytester: pytest.Pytester,
) -> None:
    config = pytester.path / "broken.toml"
    # A server that moderates everything: every valid generate is refused with 403.
    config.write_text(
        '[[scenarios]]\nmatch = {endpoint = "videos"}\nthen = {reject = "forbidden"}\n'
    )
    with live_server("--token", "given-token", "--config", str(config)) as server:
        result = run(
            pytester,
            """
            def test_the_target_keeps_the_contract(luma_contract):
                luma_contract.verify(max_examples=5, stateful=False)
            """,
            f"--luma-target={server.url}",
            "--luma-token=given-token",
            "--luma-max-billable=5",
        )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*valid-accepted*"])


def test_with_a_target_luma_server_goes_through_a_capping_validating_proxy(
    pytester: pytest.Pytester,
) -> None:
    source = """
        import requests

        def test_capped(luma_server):
            assert luma_server.url != luma_server.target  # clients talk to the proxy
            body = {"prompt": "x", "async": True}
            first = requests.post(luma_server.url + "/luma/videos", json=body,
                                  headers=luma_server.headers, timeout=10)
            second = requests.post(luma_server.url + "/luma/videos", json=body,
                                   headers=luma_server.headers, timeout=10)
            assert first.status_code == 200
            assert second.status_code == 429 and second.headers["X-Luma-Mock-Proxy"] == "capped"
            assert len(luma_server.journal.entries(path="/luma/videos")) == 1  # never forwarded
    """
    with live_server("--delay", "instant", "--token", "given-token") as server:
        result = run(
            pytester,
            source,
            f"--luma-target={server.url}",
            "--luma-token=given-token",
            "--luma-max-billable=1",
        )
    result.assert_outcomes(passed=1)


def test_luma_server_on_a_shared_store_by_option_and_by_marker(
    pytester: pytest.Pytester, redis_url: str
) -> None:
    """``--luma-store URL`` (or the marker's ``store``) runs luma_server's fake on Redis:
    its tasks are in the store, and a second fake on it is the same fake."""
    result = run(
        pytester,
        f"""
        import pytest, redis, requests

        STORE = {redis_url!r}

        def made(luma_server):
            answer = requests.post(luma_server.url + "/luma/videos",
                                   json={{"prompt": "x", "async": True}},
                                   headers=luma_server.headers, timeout=10)
            return answer.json()["task_id"]

        def test_by_option(luma_server):
            task_id = made(luma_server)
            assert redis.Redis.from_url(STORE).exists(f"luma-mock:acedata:t:{{task_id}}")

        @pytest.mark.luma(store=STORE, clock="manual", delay=60)
        def test_by_marker(luma_server):
            task_id = made(luma_server)
            assert redis.Redis.from_url(STORE).exists(f"luma-mock:acedata:t:{{task_id}}")
            luma_server.advance(61)
            assert luma_server.wait_for_state(task_id, "completed")["state"] == "completed"
        """,
        "--luma-store",
        redis_url,
    )
    result.assert_outcomes(passed=2)
