from __future__ import annotations

from collections.abc import Iterator

import pytest

from contract_tests.contract import profiles
from tests.redis_server import redis_server, redis_url  # noqa: F401 - fixtures

profiles.register()
profiles.load_default()

pytest_plugins = ("pytester", "tests.dashboard_support")


@pytest.fixture(scope="module")
def fake_url() -> Iterator[str]:
    """A ``luma-mock serve`` process for a module's consumer-suite runs (each run resets
    it), as the consumer suite starts one."""
    from contract_tests.consumer import LiveFake

    fake = LiveFake()
    try:
        yield fake.url
    finally:
        fake.stop()
