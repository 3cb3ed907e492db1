"""``luma_cassette`` and the record modes, run as users run them: pytester sessions of
their own, recording from a stand-in (`luma-mock serve` in its own process) and
replaying without it."""

from __future__ import annotations

import json
import random
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mock_server.harness.process import ServedFake, cli_command
from tests.support import LiveServer, live_server

# The users' sessions need no other plugin (Hypothesis' alone costs seconds a run).
NO_OTHER_PLUGINS = tuple(
    arg
    for plugin in ("schemathesis", "cacheprovider", "xdist", "hypothesispytest", "anyio")
    for arg in ("-p", f"no:{plugin}")
)
CASSETTE = Path("cassettes/test_user/test_make_videos.jsonl")
NOWHERE = "http://127.0.0.1:9"  # a replay never goes there; a recording would fail

USER_TEST = """
import pytest
import requests

PROMPTS = {prompts!r}

@pytest.mark.luma_cassette(clock="manual")  # a replay's clock; a recording's is the target's
def test_make_videos(luma_cassette):
    for prompt in PROMPTS:
        answer = requests.post(luma_cassette.url + "/luma/videos", json={{"prompt": prompt}},
                               headers=luma_cassette.headers, timeout=10)
        assert answer.status_code == 200, answer.text
        print(f"TASK|{{prompt}}|{{answer.json()['task_id']}}|{{luma_cassette.action}}|")
    luma_cassette.advance(5)  # moves a replay's manual clock; nothing while recording
"""


DRIFTED = f"""
import pytest
import requests

def make(cassette, prompt):
    return requests.post(cassette.url + "/luma/videos", json={{"prompt": prompt}},
                         headers=cassette.headers, timeout=10)

@pytest.mark.luma_cassette("{CASSETTE}")
def test_more(luma_cassette):
    assert make(luma_cassette, "a cat").status_code == 200
    assert make(luma_cassette, "a dog").status_code == 200  # 501: not recorded

@pytest.mark.luma_cassette("{CASSETTE}", mode="none")
def test_fewer(luma_cassette):
    pass
"""


@pytest.fixture(scope="module")
def stand_in() -> Iterator[LiveServer]:
    seed = str(random.randrange(1 << 30))
    with live_server("--seed", seed, "--delay", "instant", "--log-level", "warning") as server:
        yield server


@pytest.fixture(autouse=True)
def no_mode_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CI", "LUMA_MOCK_RECORD_MODE", "LUMA_MOCK_TARGET", "LUMA_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def run(pytester: pytest.Pytester, prompts: list[str], *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_user=textwrap.dedent(USER_TEST.format(prompts=prompts)))
    return pytester.runpytest_subprocess(*NO_OTHER_PLUGINS, "-s", *args)


def tasks(result: pytest.RunResult) -> dict[str, tuple[str, str]]:
    """prompt -> (task id, what the session did), as the user's test printed them."""
    found = re.findall(r"TASK\|([^|]+)\|([^|]+)\|([^|]+)\|", result.stdout.str())
    return {prompt: (task, action) for prompt, task, action in found}


def creates(path: Path) -> list[str]:
    lines = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    return [x["request"]["body"]["json"]["prompt"] for x in lines if x.get("role") == "create"]


def test_a_cassette_is_recorded_once_then_replayed_and_teardown_holds_the_test_to_it(
    pytester: pytest.Pytester, stand_in: LiveServer
) -> None:
    recorded = run(pytester, ["a cat"], "--luma-record-mode=once", f"--luma-target={stand_in.url}")
    recorded.assert_outcomes(passed=1)
    cat, action = tasks(recorded)["a cat"]
    assert action == "record" and creates(pytester.path / CASSETTE) == ["a cat"]

    # The target is nowhere now: what the test gets is the recording's, the same task id.
    # (`once` is the default off CI: with the cassette there, it replays.)
    replayed = run(pytester, ["a cat"], f"--luma-target={NOWHERE}")
    replayed.assert_outcomes(passed=1)
    assert tasks(replayed)["a cat"] == (cat, "replay")

    # Two tests on that cassette (the marker's path): one asks what it has no recording
    # of (the test sees 501, teardown says so), one no longer makes the recorded create.
    pytester.makepyfile(test_user=textwrap.dedent(DRIFTED))
    drifted = pytester.runpytest_subprocess(*NO_OTHER_PLUGINS, "--luma-record-mode=none")
    drifted.assert_outcomes(passed=1, failed=1, errors=2)
    drifted.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_more*",
            "*unmatched request*/luma/videos*",
            "*ERROR at teardown of test_fewer*",
            "*recorded create never replayed*/luma/videos*",
        ]
    )


def test_new_records_only_what_is_missing_and_all_records_afresh(
    pytester: pytest.Pytester, stand_in: LiveServer
) -> None:
    target = f"--luma-target={stand_in.url}"
    first = run(pytester, ["a cat"], "--luma-record-mode=new", target)
    cat, action = tasks(first)["a cat"]
    assert action == "record"  # no cassette yet: all is new

    grown = run(pytester, ["a cat", "a dog"], "--luma-record-mode=new", target)
    grown.assert_outcomes(passed=1)
    seen = tasks(grown)
    assert seen["a cat"] == (cat, "new")  # replayed
    assert seen["a dog"][0] != cat  # recorded, and appended to the cassette
    assert creates(pytester.path / CASSETTE) == ["a cat", "a dog"]
    both = run(pytester, ["a cat", "a dog"], "--luma-record-mode=none")
    both.assert_outcomes(passed=1)
    assert tasks(both) == {"a cat": (cat, "replay"), "a dog": (seen["a dog"][0], "replay")}

    fresh = run(pytester, ["a bird"], "--luma-record-mode=all", target)
    fresh.assert_outcomes(passed=1)
    assert creates(pytester.path / CASSETTE) == ["a bird"]  # replaced


def test_no_cassette_on_ci_names_the_command_that_records_one(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")  # replay only: a missing cassette must not pay
    result = run(pytester, ["a cat"])
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*no cassette *{CASSETTE} (record mode none): record it with",
            "*LUMA_TOKEN=<your token> python -m pytest test_user.py::test_make_videos "
            "--luma-record-mode=once",
        ]
    )
    assert not (pytester.path / CASSETTE).exists()


def test_replay_records_on_the_command_line_once_then_new(
    stand_in: LiveServer, tmp_path: Path
) -> None:
    cassette = tmp_path / "session.jsonl"
    flags = ("--log-level", "warning", "--target", stand_in.url)

    def replay(mode: str, *prompts: str) -> list[str]:
        command = [*cli_command(), "replay", str(cassette), "--port", "0", "--record-mode", mode]
        served = ServedFake([*command, *flags])
        made = [
            requests.post(served.url + "/luma/videos", json={"prompt": p},
                          headers={"Authorization": "Bearer t"}, timeout=10).json()["task_id"]
            for p in prompts
        ]  # fmt: skip
        served.stop()
        assert served.process.returncode == 0, served.output
        return made

    (cat,) = replay("once", "a cat")  # no cassette: recorded from the target
    assert creates(cassette) == ["a cat"]
    again, dog = replay("new", "a cat", "a dog")
    assert again == cat and dog != cat  # the cat replayed, the dog recorded
    assert creates(cassette) == ["a cat", "a dog"]
