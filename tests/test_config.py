"""Settings and delays: presets, distributions, and where values come from."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from mock_server.engine.config import Settings, load
from mock_server.engine.delays import PRESETS, DelayModel, Fixed, LogNormal, Uniform, parse_delays


def test_presets() -> None:
    assert parse_delays("instant").plan("generate", random.Random(1)) == (0.0, 0.0)
    queue, work = parse_delays("default").plan("generate", random.Random(1))
    assert queue == 0.5 and 2.0 <= work <= 4.0
    rng = random.Random(3)
    works = sorted(parse_delays("realistic").plan("generate", rng)[1] for _ in range(2001))
    assert 75 < works[1000] < 105  # median near the real service's ~90 s
    assert max(works) <= 300


def test_seconds_mean_a_fixed_processing_time() -> None:
    assert parse_delays("2.5") == DelayModel(Fixed(0.0), Fixed(2.5), Fixed(2.5))
    assert parse_delays(0) == PRESETS["instant"]


def test_distributions_from_a_table() -> None:
    model = parse_delays(
        {
            "queue": 1,
            "generate": {"kind": "uniform", "low": 5, "high": 10},
            "extend": {"kind": "lognormal", "median": 60, "sigma": 0.5, "cap": 120},
        }
    )
    assert model == DelayModel(Fixed(1.0), Uniform(5.0, 10.0), LogNormal(60.0, 0.5, 120.0))
    rng = random.Random(0)
    assert all(model.plan("extend", rng)[1] <= 120 for _ in range(500))
    assert all(5 <= model.plan("generate", rng)[1] <= 10 for _ in range(500))
    assert (
        parse_delays({"preset": "realistic", "queue": 0}).generate == PRESETS["realistic"].generate
    )
    assert LogNormal(10, 0).sample(rng) == pytest.approx(10)
    assert math.isinf(LogNormal(1, 1).cap)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("soon", "unknown delay"),
        (-1, "cannot be"),
        ({"generate": {"kind": "gaussian"}}, "unknown delay kind"),
        ({"generate": {"kind": "uniform", "low": 3}}, "needs 'high'"),
        ({"generate": {"kind": "uniform", "low": 3, "high": 1}}, "low <= high"),
        ({"generate": {"kind": "lognormal", "median": 0, "sigma": 1}}, "median > 0"),
        (True, "not True"),
    ],
)
def test_bad_delays_say_what_is_wrong(spec: object, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_delays(spec)


def test_cli_beats_environment_beats_file_beats_defaults(tmp_path: Path) -> None:
    config = tmp_path / "fake.toml"
    config.write_text(
        "[luma-mock]\n"
        'port = 9001\nhost = "0.0.0.0"\nclock = "manual"\n'
        'tokens = ["a", "b"]\n'
        '[luma-mock.delay]\ngenerate = {kind = "uniform", low = 1, high = 2}\n'
    )
    env = {"LUMA_MOCK_PORT": "9002", "LUMA_MOCK_CALLBACK_RETRIES": "5", "HOME": "/x"}
    settings = load({"port": 9003, "host": None}, config=config, environ=env)
    assert settings.port == 9003  # flag
    assert settings.callback_retries == 5  # environment
    assert (settings.host, settings.clock, settings.tokens) == ("0.0.0.0", "manual", ("a", "b"))
    assert settings.delays.generate == Uniform(1.0, 2.0)
    assert settings.delays.queue == PRESETS["default"].queue  # the rest from the default preset
    assert load({}, environ={}) == Settings()


def test_config_file_can_come_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "fake.toml"
    config.write_text('delay = "instant"\n')  # a bare file without the [luma-mock] table
    settings = load({}, environ={"LUMA_MOCK_CONFIG": str(config), "LUMA_MOCK_TOKENS": "x, y"})
    assert settings.delays == PRESETS["instant"] and settings.tokens == ("x", "y")


@pytest.mark.parametrize(
    "values",
    [{"clock": "sundial"}, {"colour": "blue"}, {"log_format": "xml"}, {"max_tasks": 0}],
)
def test_bad_settings_are_refused(values: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Settings().with_values(values)


def test_scenarios_from_the_config_file_are_there_from_the_start(tmp_path: Path) -> None:
    from mock_server.acedata.service import LumaService

    config = tmp_path / "fake.toml"
    config.write_text(
        "[luma-mock]\n"
        '[[luma-mock.scenarios]]\nname = "moderated"\n'
        'match = {prompt_contains = "forbidden"}\nthen = {reject = "forbidden"}\n'
        '[[luma-mock.scenarios]]\nthen = [{reject = "api_error"}, {succeed = true}]\n'
    )
    luma = LumaService(load({}, config=config, environ={}))
    assert [r.name for r in luma.scenarios.list()] == ["moderated", "rule-2"]
    bad = tmp_path / "bad.toml"
    bad.write_text('[[scenarios]]\nthen = {reject = "teapot"}\n')
    with pytest.raises(ValueError, match="teapot"):
        load({}, config=bad, environ={})


def test_other_parts_luma_mock_variables_are_not_server_settings() -> None:
    env = {
        "LUMA_MOCK_TARGET": "https://api.test",
        "LUMA_MOCK_TARGET_TOKEN": "t",
        "LUMA_MOCK_PORT": "9",
    }
    assert load({}, environ=env).port == 9
