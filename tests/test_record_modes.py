"""The record modes' decisions, and the ``new`` mode's append, in process."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import contract_tests.plugin as plugin
from contract_tests.consumer.record_modes import MODES, NoCassette, decide, default_mode
from mock_server.cassettes.append import append_cassette
from mock_server.cassettes.format import CassetteWriter, media_folder, read_cassette


def test_the_plugin_offers_the_modes_there_are() -> None:
    assert plugin.RECORD_MODES == MODES


def test_none_on_ci_once_elsewhere() -> None:
    assert default_mode({"CI": "true"}) == "none"
    assert default_mode({"CI": ""}) == default_mode({}) == "once"


@pytest.mark.parametrize(
    ("mode", "exists", "action"),
    [
        ("none", True, "replay"),
        ("once", True, "replay"),
        ("once", False, "record"),
        ("new", True, "new"),
        ("new", False, "record"),
        ("all", True, "record"),
        ("all", False, "record"),
    ],
)
def test_what_each_mode_does(mode: str, exists: bool, action: str) -> None:
    assert decide(mode, exists) == action


def test_none_without_a_cassette_and_an_unknown_mode_are_refused() -> None:
    with pytest.raises(NoCassette):
        decide("none", False)
    with pytest.raises(ValueError, match="none, once, new, all"):
        decide("sometimes", True)


def _cassette(path: Path, ats: list[float], media: bytes | None = None) -> Path:
    with CassetteWriter(path) as writer:
        for at in ats:
            writer.append({"type": "exchange", "at": at, "dialect": "acedata"})
    if media is not None:
        digest = hashlib.sha256(media).hexdigest()
        media_folder(path).mkdir()
        (media_folder(path) / f"{digest}.mp4").write_bytes(media)
    return path


def test_new_lines_go_on_the_end_in_order_with_their_media(tmp_path: Path) -> None:
    played = _cassette(tmp_path / "played.jsonl", [0.0, 12.5])
    fresh = _cassette(tmp_path / "fresh" / "played.jsonl", [0.0, 3.0], media=b"\x00video")
    before = played.read_text().splitlines()

    assert append_cassette(played, fresh) == 2
    after = read_cassette(played)
    assert played.read_text().splitlines()[: len(before)] == before  # nothing rewritten
    assert [e["seq"] for e in after.events] == [0, 1, 2, 3]
    assert [e["at"] for e in after.events] == [0.0, 12.5, 12.5, 15.5]
    assert [f.read_bytes() for f in media_folder(played).iterdir()] == [b"\x00video"]


def test_a_torn_cassette_is_not_appended_to(tmp_path: Path) -> None:
    played = _cassette(tmp_path / "played.jsonl", [0.0])
    with played.open("a") as out:
        out.write('{"type": "exchange", "se')  # a crash mid-line
    torn = played.read_text()
    fresh = _cassette(tmp_path / "fresh.jsonl", [1.0])
    with pytest.raises(ValueError, match="truncated last line"):
        append_cassette(played, fresh)
    assert played.read_text() == torn  # nothing glued to the torn line
