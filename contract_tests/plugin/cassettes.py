"""``luma_cassette``: a test's cassette, replayed or recorded per the record mode.

The cassette of ``tests/test_x.py::test_y`` is ``tests/cassettes/test_x/test_y.jsonl``
(the marker's ``path``, relative to the test file, moves it). The mode is the command
line's ``--luma-record-mode``, else the marker's ``mode``, else ``none`` on CI and
``once`` elsewhere (`record_modes.default_mode`): the command line wins, so one run can
re-record everything with ``--luma-record-mode=all``. A recording goes to the marker's
``target``, else ``--luma-target``, else the dialect's real service, with the token of
``--luma-token`` or the dialect's own variable (``LUMA_TOKEN``, ``LUMAAI_API_KEY``…).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from ..consumer.record_modes import CassetteSession, NoCassette, decide, record_command
from ..contract.packs import Pack, default_pack, pack
from . import CASSETTE_KEYS

MARKER = "luma_cassette"
REPLAY_TOKEN = "luma-cassette"  # what a client sends to a replay (tokens are not matched)


def marker_values(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The test's ``@pytest.mark.luma_cassette(...)``: a path as its one argument, and
    keywords; the closest marker wins."""
    values: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers(MARKER))):
        if len(marker.args) > 1:
            raise pytest.UsageError(f"@pytest.mark.{MARKER} takes one path at most")
        if marker.args:
            values["path"] = marker.args[0]
        values.update(marker.kwargs)
    unknown = set(values) - set(CASSETTE_KEYS)
    if unknown:
        raise pytest.UsageError(
            f"unknown @pytest.mark.{MARKER} key(s) {sorted(unknown)}; "
            f"known: {', '.join(CASSETTE_KEYS)}"
        )
    return values


def cassette_path(request: pytest.FixtureRequest, given: str | None) -> Path:
    test_file = Path(str(request.node.path))
    if given:
        path = Path(given)
        return path if path.is_absolute() else test_file.parent / path
    name = re.sub(r"[^\w.-]+", "-", request.node.name).strip("-")  # parameters too
    return test_file.parent / "cassettes" / test_file.stem / f"{name}.jsonl"


@dataclass
class LumaCassette:
    """What ``luma_cassette`` gives a test: ``url`` (point the client there; a dialect's
    own base URL is ``url_for(name)``), ``token`` and ``headers`` to send, the ``mode``,
    what it did (``action``: ``replay``, ``record`` or ``new``) and the cassette's ``path``."""

    url: str
    token: str
    mode: str
    action: str
    path: Path
    session: CassetteSession

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url_for(self, dialect: str) -> str:
        return self.url + pack(dialect).path_prefix

    def advance(self, seconds: float) -> None:
        """Move a replay's manual clock (the marker's ``clock="manual"``). A recording
        runs on the provider's own time: nothing to move then."""
        replay = self.session.replay
        if replay is not None:
            moved = requests.post(
                f"{replay.url}/__admin/clock/advance", json={"seconds": seconds}, timeout=30
            )
            moved.raise_for_status()


def _replay_args(values: dict[str, Any]) -> list[str]:
    args: list[str] = []
    if values.get("speed") is not None:
        args += ["--speed", str(values["speed"])]
    if values.get("clock") is not None:
        args += ["--clock", str(values["clock"])]
    return args


def open_cassette(request: pytest.FixtureRequest, default_mode: str) -> LumaCassette:
    """Start the test's cassette session; `pytest.fail` when it cannot be played."""
    config = request.config
    values = marker_values(request)
    speaks: Pack = pack(values["dialect"]) if values.get("dialect") else default_pack()
    mode = config.getoption("luma_record_mode") or values.get("mode") or default_mode
    path = cassette_path(request, values.get("path"))
    target = values.get("target") or config.getoption("luma_target") or speaks.real_service
    token = config.getoption("luma_token") or speaks.token(os.environ)
    try:
        action = decide(mode, path.exists())
    except NoCassette:
        shown = None if target == speaks.real_service else target
        pytest.fail(
            f"no cassette {path} (record mode {mode}): record it with\n  "
            + record_command(request.node.nodeid, shown, speaks.token_env),
            pytrace=False,
        )
    except ValueError as bad:
        raise pytest.UsageError(str(bad)) from None
    if action != "replay" and not token and target == speaks.real_service:
        names = " or ".join(speaks.token_env)
        pytest.fail(
            f"recording {path} from {target} needs a token: --luma-token or {names}",
            pytrace=False,
        )
    session = CassetteSession(path, mode, target, replay_args=_replay_args(values)).start()
    return LumaCassette(session.url, token or REPLAY_TOKEN, mode, action, path, session)


def close_cassette(cassette: LumaCassette) -> None:
    """Teardown: fail on an unmatched request, a recorded create never replayed, or a
    secret the recording left on disk."""
    session = cassette.session
    try:
        problems = session.problems()
    finally:
        hits = session.close()
    problems += [f"secret on disk: {hit}" for hit in hits]
    if problems:
        pytest.fail(
            f"cassette {cassette.path} ({cassette.action}):\n  " + "\n  ".join(problems),
            pytrace=False,
        )
