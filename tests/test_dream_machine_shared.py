"""What the fake offers, for the Dream Machine dialect as for the AceDataCloud one (issue
13): one scenario rule book with ``dialect``, ``path`` and ``model`` keys, answers of any
status with ``x-should-retry`` (obeyed by the real ``lumaai`` SDK, attempts counted in
the journal), one credit balance that ``GET /credits`` reads and a failed generation
refunds, the control API on generations, and the plugin's fixtures driving the SDK."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from mock_server.acedata import LumaService
from mock_server.dream_machine import DIALECT
from mock_server.engine.config import Settings

lumaai = pytest.importorskip("lumaai")

CREATE = "/dream-machine/v1/generations/video"
VIDEO = {"model": "ray-2", "prompt": "a tiger in the snow"}


def sdk(fake: Any, transport: Any, retries: int = 0) -> Any:
    """Luma's SDK, unchanged, answered in process by the fake (no socket)."""
    return lumaai.LumaAI(
        auth_token=fake.token,
        base_url=fake.url_for("dream-machine"),
        http_client=httpx.Client(transport=transport),
        max_retries=retries,
    )


def attempts(fake: Any, path: str = CREATE) -> int:
    return len(fake.journal.entries(path=path))


# -- one rule book --------------------------------------------------------------------------


def test_a_rule_without_a_dialect_reaches_both(luma_fake: Any) -> None:
    luma_fake.scenarios.add(
        {"match": {"prompt_contains": "volcano"}, "then": {"reject": "forbidden"}}
    )
    client = luma_fake.client()
    dm = client.post(CREATE, json={**VIDEO, "prompt": "a volcano"}, headers=luma_fake.headers)
    assert (dm.status_code, dm.get_json()) == (403, {"detail": "Access denied"})
    ace = client.post("/luma/videos", json={"prompt": "a volcano"}, headers=luma_fake.headers)
    assert ace.status_code == 403 and ace.get_json()["error"]["code"] == "forbidden"
    assert "moderators" in ace.get_json()["error"]["message"]  # AceData's own words
    assert [e["rule"] for e in luma_fake.journal.entries()] == ["rule-1", "rule-1"]


def test_the_dialect_key_keeps_a_rule_to_one_api(luma_fake: Any) -> None:
    luma_fake.scenarios.add({"match": {"dialect": "acedata"}, "then": {"reject": "api_error"}})
    client = luma_fake.client()
    assert client.post(CREATE, json=VIDEO, headers=luma_fake.headers).status_code == 201
    ace = client.post("/luma/videos", json={"prompt": "x"}, headers=luma_fake.headers)
    assert ace.status_code == 500
    luma_fake.scenarios.clear()
    luma_fake.scenarios.add(
        {"match": {"dialect": "dream-machine"}, "then": {"reject": 503, "message": "busy"}}
    )
    dm = client.get("/dream-machine/v1/ping", headers=luma_fake.headers)
    assert (dm.status_code, dm.get_json()) == (503, {"detail": "busy"})


@pytest.mark.parametrize(
    ("match", "hits"),
    [
        ({"path": "*/generations/image"}, [False, True, False]),
        ({"model": "ray-flash-2"}, [False, False, True]),
        ({"dialect": "dream-machine", "endpoint": "create_video"}, [True, False, True]),
        ({"action": "generate", "fields": {"aspect_ratio": "9:16"}}, [True, True, False]),
    ],
)
def test_match_keys_for_this_api(luma_fake: Any, match: dict[str, Any], hits: list[bool]) -> None:
    luma_fake.scenarios.add({"match": match, "then": {"reject": 409}})
    client = luma_fake.client()
    calls = [
        ("/generations/video", {**VIDEO, "aspect_ratio": "9:16"}),
        (
            "/dream-machine/v1/generations/image",
            {"model": "photon-1", "prompt": "a cat", "aspect_ratio": "9:16"},
        ),
        (CREATE, {**VIDEO, "model": "ray-flash-2"}),
    ]
    statuses = [client.post(p, json=b, headers=luma_fake.headers).status_code for p, b in calls]
    assert statuses == [409 if hit else 201 for hit in hits]


def test_a_moderation_failure_ends_the_generation_failed_with_luma_s_reason(
    luma_fake: Any, luma_clock: Any
) -> None:
    luma_fake.set_delays(30)
    luma_fake.scenarios.add(
        {
            "match": {"dialect": "dream-machine", "prompt_contains": "gore"},
            "then": [
                {"fail": "forbidden"},
                {"fail": "forbidden", "message": "Contains blacklisted words"},
            ],
        }
    )
    client = sdk(luma_fake, luma_fake_transport(luma_fake))
    first = client.generations.create(model="ray-2", prompt="some gore")
    second = client.generations.create(model="ray-2", prompt="more gore")
    assert first.state == "dreaming"  # created: it fails when it ends
    luma_clock.advance(30)
    reasons = [client.generations.get(g.id).failure_reason for g in (first, second)]
    assert reasons == ["Advanced prompt moderation failed", "Contains blacklisted words"]


def luma_fake_transport(fake: Any) -> Any:
    from mock_server.web.transports import httpx_transport

    return httpx_transport(fake.app)


def test_bad_rules_name_the_problem(luma_fake: Any) -> None:
    from mock_server.harness.remote import ControlError

    bad = [
        ({"match": {"dialect": "dream_machine"}, "then": {"succeed": True}}, "dialect is"),
        (
            {
                "match": {"dialect": "acedata", "endpoint": "create_video"},
                "then": {"succeed": True},
            },
            "endpoint is videos or tasks",
        ),
        ({"then": {"reject": 302}}, "400 to 599"),
        ({"then": {"fail": "api_error", "should_retry": True}}, "should_retry"),
    ]
    for rule, words in bad:
        with pytest.raises(ControlError) as refused:
            luma_fake.scenarios.add(rule)
        assert refused.value.status == 400 and words in str(refused.value)


# -- x-should-retry and retry-after, obeyed by the real SDK ----------------------------------


def test_x_should_retry_false_stops_the_sdk_s_retries(
    luma_fake: Any, luma_httpx_transport: Any
) -> None:
    luma_fake.scenarios.add({"then": {"reject": 500, "should_retry": False}})
    with pytest.raises(lumaai.InternalServerError) as failed:
        sdk(luma_fake, luma_httpx_transport, retries=2).generations.create(**VIDEO)
    assert failed.value.response.headers["x-should-retry"] == "false"
    assert attempts(luma_fake) == 1  # a 500 it would otherwise try three times


def test_x_should_retry_true_makes_the_sdk_retry_a_400(
    luma_fake: Any, luma_httpx_transport: Any
) -> None:
    luma_fake.scenarios.add(
        {
            "match": {"endpoint": "create_video"},
            "then": [
                {"reject": 400, "message": "try again", "should_retry": True},
                {"succeed": True},
            ],
        }
    )
    created = sdk(luma_fake, luma_httpx_transport, retries=2).generations.create(**VIDEO)
    assert created.state == "completed"  # instant tasks (the plugin's default)
    assert [e["status"] for e in luma_fake.journal.entries(path=CREATE)] == [400, 201]


def test_a_429_with_retry_after_is_retried_by_the_sdk(
    luma_fake: Any, luma_httpx_transport: Any
) -> None:
    luma_fake.scenarios.add(
        {"then": [{"reject": "too_many_requests", "retry_after": 1}, {"succeed": True}]}
    )
    created = sdk(luma_fake, luma_httpx_transport, retries=1).generations.create(**VIDEO)
    assert created.id
    first = luma_fake.journal.entries(path=CREATE)[0]
    assert first["status"] == 429 and set(first["answer"]) == {"detail"}
    assert attempts(luma_fake) == 2


def test_the_rate_limit_answers_detail_with_retry_after(luma_fake: Any) -> None:
    luma_fake.accounts.set_rate_limit("1/60")
    client = luma_fake.client()
    assert client.get("/ping", headers=luma_fake.headers).status_code == 200
    limited = client.get("/ping", headers=luma_fake.headers)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    assert limited.get_json() == {"detail": "Rate limit exceeded, please try again later"}


# -- credits -----------------------------------------------------------------------------------


def test_credits_are_the_token_s_one_balance(luma_fake: Any, luma_httpx_transport: Any) -> None:
    client = sdk(luma_fake, luma_httpx_transport)
    luma_fake.accounts.set_balance(luma_fake.token, 3)
    assert client.credits.get().credit_balance == 3
    client.generations.create(**VIDEO)  # a generation costs video_cost (1)
    luma_fake.client().post("/luma/videos", json={"prompt": "x"}, headers=luma_fake.headers)
    assert client.credits.get().credit_balance == 1  # an AceData video spent the same balance
    client.generations.image.create(model="photon-1", prompt="a cat")
    with pytest.raises(lumaai.APIStatusError) as empty:
        client.generations.create(**VIDEO)
    assert empty.value.status_code == 402
    assert empty.value.body == {"detail": "Insufficient credits"}
    ace = luma_fake.client().post("/luma/videos", json={"prompt": "x"}, headers=luma_fake.headers)
    assert ace.status_code == 403 and ace.get_json()["error"]["code"] == "used_up"  # its own


@pytest.mark.luma(delay=60, credits=2)
def test_a_failed_generation_is_refunded(luma_fake: Any, luma_clock: Any) -> None:
    luma_fake.scenarios.add({"match": {"prompt_contains": "doomed"}, "then": {"fail": "api_error"}})
    client = sdk(luma_fake, luma_fake_transport(luma_fake))
    doomed = client.generations.create(model="ray-2", prompt="a doomed shot")
    fine = client.generations.create(model="ray-2", prompt="a fine shot")
    assert client.credits.get().credit_balance == 0
    luma_clock.advance(60)
    assert client.generations.get(doomed.id).state == "failed"
    assert client.credits.get().credit_balance == 1  # doomed's credit came back, fine's not
    assert client.generations.get(fine.id).state == "completed"
    another = client.generations.create(model="ray-2", prompt="one more")
    luma_fake.fail(another.id, message="Frame moderation failed")  # the control API refunds too
    assert client.credits.get().credit_balance == 1


# -- the control API on generations -------------------------------------------------------------


@pytest.mark.luma(delay=30)
def test_control_calls_find_generations(luma_fake: Any, luma_httpx_transport: Any) -> None:
    client = sdk(luma_fake, luma_httpx_transport)
    generation = client.generations.create(**VIDEO)
    assert luma_fake.wait_for_state(generation.id, "processing")["record"]["state"] == "dreaming"
    failed = luma_fake.fail(generation.id, "api_error", "Failed to read user input frames")
    assert failed["record"]["failure_reason"] == "Failed to read user input frames"
    assert client.generations.get(generation.id).state == "failed"
    entry = luma_fake.journal.wait(path=CREATE, answered=True)
    assert entry["task_id"] == generation.id
    luma_fake.scenarios.add({"match": {"dialect": "dream-machine"}, "then": {"reject": 500}})
    luma_fake.reset()
    assert luma_fake.scenarios.list() == []
    with pytest.raises(lumaai.NotFoundError):
        client.generations.get(generation.id)


# -- the plugin -------------------------------------------------------------------------------


@pytest.mark.luma(delay=90)
def test_luma_httpx_transport_drives_the_sdk_in_process(
    luma_fake: Any, luma_httpx_transport: Any, luma_clock: Any
) -> None:
    from tests.media_probe import video_size

    http = httpx.Client(transport=luma_httpx_transport)
    client = lumaai.LumaAI(
        auth_token=luma_fake.token, base_url=luma_fake.url_for("dream-machine"), http_client=http
    )
    generation = client.generations.create(model="ray-2", prompt="a tiger", aspect_ratio="1:1")
    assert generation.state == "dreaming"
    luma_clock.advance(90)
    done = client.generations.get(generation.id)
    assert done.state == "completed" and done.assets is not None
    assert video_size(http.get(done.assets.video).content) == (720, 720)


@pytest.mark.luma(
    scenarios=[
        {"match": {"dialect": "dream-machine", "model": "ray-flash-2"}, "then": {"reject": 422}}
    ]
)
def test_luma_responses_answers_luma_s_own_base_url(luma_responses: Any) -> None:
    headers = {"Authorization": f"Bearer {luma_responses.token}"}
    base = "https://api.lumalabs.ai/dream-machine/v1"
    made = requests.post(base + "/generations/video", json=VIDEO, headers=headers, timeout=5)
    assert made.status_code == 201 and made.json()["state"] == "completed"
    refused = requests.post(
        base + "/generations", json={**VIDEO, "model": "ray-flash-2"}, headers=headers, timeout=5
    )
    assert refused.status_code == 422 and set(refused.json()) == {"detail"}
    pong = requests.get(
        luma_responses.url_for("dream-machine") + "/ping", headers=headers, timeout=5
    )
    assert pong.json() == {"message": "pong"}


@pytest.mark.luma(
    clock="manual",
    delay=20,
    scenarios=[
        {
            "match": {"dialect": "dream-machine", "scenario": "cut"},
            "then": {"fault": "reset"},
            "times": 1,
        }
    ],
)
def test_luma_server_serves_the_sdk_with_faults_below_http(luma_server: Any) -> None:
    client = lumaai.LumaAI(
        auth_token=luma_server.token,
        base_url=luma_server.url_for("dream-machine"),
        max_retries=1,
        default_headers={"X-Luma-Mock-Scenario": "cut"},
    )
    generation = client.generations.create(**VIDEO)  # the first answer is lost: retried
    creates = luma_server.journal.entries(path=CREATE)
    assert [e.get("fault") for e in creates] == ["reset", None]
    assert all(e["task_id"] for e in creates)  # the blind retry made a second generation
    assert len(client.generations.list().generations) == 2
    luma_server.advance(20)
    assert client.generations.get(generation.id).state == "completed"


# -- configured rules -----------------------------------------------------------------------------


def test_configured_rules_may_name_either_dialect(tmp_path: Path) -> None:
    rule = {"match": {"dialect": "dream-machine"}, "then": {"reject": "api_error"}}
    luma = LumaService(Settings().with_values({"scenarios": [rule], "delay": "instant"}))
    try:
        dream_machine = luma.fake.add(DIALECT)
        luma.scenarios.check_dialects()
        assert [r.match.dialect for r in dream_machine.scenarios.list()] == ["dream-machine"]
        luma.scenarios.clear()
        luma.reset()  # the configured rule is back
        assert len(luma.scenarios.list()) == 1
    finally:
        luma.close()
    config = tmp_path / "typo.toml"
    config.write_text(
        '[[luma-mock.scenarios]]\nmatch = {dialect = "dreammachine"}\nthen = {succeed = true}\n'
    )
    run = [sys.executable, "-m", "mock_server.cli", "serve", "--port", "0", "--config", str(config)]
    refused = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "dialect is acedata or dream-machine, not 'dreammachine'" in refused.stderr


def test_each_dialect_says_a_code_s_default_in_its_own_words() -> None:
    # A Dream Machine engine made first registers its codes first; AceData's answers
    # keep AceData's documented messages all the same.
    probe = """
from mock_server.dream_machine import DIALECT
from mock_server.engine.config import Settings
from mock_server.engine.fake import Fake
Fake([DIALECT], Settings(seed=1)).close()
from mock_server.acedata import LumaService
from mock_server.web.app import create_app
luma = LumaService(Settings(seed=1, clock="manual"))
client = create_app(luma).test_client()
print(client.post("/luma/videos", json={"prompt": "x"}).get_json()["error"]["message"])
task = luma.videos({"prompt": "x", "async": True}, token="t", base_url="http://f.test")
luma.fail(task["task_id"], "timeout")
print(luma.record(luma.task(task["task_id"]))["response"]["error"]["message"])
"""
    said = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert said.stdout.splitlines() == [
        "The specified token is invalid or wrong.",
        "Timeout to generate the image.",
    ]


@pytest.mark.luma(dialect_callbacks={"dream-machine": {"retries": 1, "backoff": 2}})
def test_the_marker_changes_this_api_s_callback_policy(
    luma_fake: Any, luma_callback_receiver: Any, luma_clock: Any
) -> None:
    luma_callback_receiver.answer(500, 500, 500)
    client = luma_fake.client()
    body = {**VIDEO, "callback_url": luma_callback_receiver.url}
    generation_id = client.post(CREATE, json=body, headers=luma_fake.headers).get_json()["id"]
    luma_clock.advance(2)  # one retry, 2 s later (Luma's own policy: 3, 100 ms apart)
    delivery = luma_fake.wait_for_callback(generation_id)
    assert delivery["state"] == "failed"
    assert [a["at"] - delivery["attempts"][0]["at"] for a in delivery["attempts"]] == [0, 2]


@pytest.mark.luma(dialect_callbacks={"dream-machine": {"retries": 0}})
def test_luma_server_takes_the_dialect_callbacks_at_start(
    luma_server: Any, luma_callback_receiver: Any
) -> None:
    luma_callback_receiver.answer(500)
    body = {**VIDEO, "callback_url": luma_callback_receiver.url}
    made = requests.post(
        luma_server.url_for("dream-machine") + "/generations/video",
        json=body,
        headers=luma_server.headers,
        timeout=10,
    )
    delivery = luma_server.wait_for_callback(made.json()["id"])
    assert delivery["state"] == "failed" and len(delivery["attempts"]) == 1


def test_dialect_callbacks_from_the_config_file_and_checked(tmp_path: Path) -> None:
    from mock_server.engine.config import load

    config = tmp_path / "luma.toml"
    config.write_text("[luma-mock.dialect_callbacks.dream-machine]\nretries = 0\n")
    luma = LumaService(load(config=config, environ={}))
    try:
        assert luma.fake.add(DIALECT).callbacks.retry.retries == 0
        assert luma.callbacks.retry.retries == 3  # AceData's own, from callback_retries
    finally:
        luma.close()
    with pytest.raises(ValueError, match=r"dialect_callbacks\.dream-machine takes"):
        Settings().with_values({"dialect_callbacks": {"dream-machine": {"tries": 1}}})
    with pytest.raises(ValueError, match="is a number >= 0"):
        Settings().with_values({"dialect_callbacks": '{"dream-machine": {"retries": -1}}'})
