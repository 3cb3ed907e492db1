"""The registry of dialects (`contract_tests.contract.packs`): what a pack says of its
calls and paths, and how the registry answers for names it does not know."""

from __future__ import annotations

import pytest

from contract_tests.contract.packs import (
    Pack,
    UnknownDialect,
    default_pack,
    names,
    pack,
    pack_for_path,
    pack_of_schema,
)


def test_the_built_in_dialects_are_registered_through_the_entry_points_in_name_order() -> None:
    assert {"acedata", "dream-machine"} <= set(names())
    assert list(names()) == sorted(names())


def test_billable_calls_are_templates_with_or_without_the_prefix() -> None:
    dm = pack("dream-machine")
    assert dm.is_billable("POST", "/dream-machine/v1/generations/video")
    assert dm.is_billable("post", "/generations/video?x=1")  # the SDKs' mocks: no prefix
    assert dm.is_billable("POST", "/dream-machine/v1/generations/0b1/upscale")
    assert not dm.is_billable("GET", "/dream-machine/v1/generations/video")
    assert not dm.is_billable("POST", "/dream-machine/v1/generations/0b1/upscale/more")
    assert not dm.is_billable("POST", "/dream-machine/v1/generations/0b1")
    assert pack("acedata").is_billable("POST", "/luma/videos")
    assert not pack("acedata").is_billable("POST", "/luma/tasks")


def test_a_path_belongs_to_the_pack_whose_prefix_it_is_under() -> None:
    assert pack_for_path("/dream-machine/v1/ping") is pack("dream-machine")
    assert pack_for_path("/dream-machine/v10/ping") is None  # a prefix is whole segments
    assert pack_for_path("/luma/videos") is None
    assert default_pack() is pack("acedata")  # served at the root: no prefix


def test_unknown_names_are_refused_naming_the_known_ones() -> None:
    with pytest.raises(UnknownDialect, match="known: acedata, dream-machine"):
        pack("nope")
    with pytest.raises(KeyError, match="<dialect>/<name>"):
        pack_of_schema("videos-request")
    with pytest.raises(KeyError, match="unknown dialect 'nope'"):
        pack_of_schema("nope/thing")
    assert pack_of_schema("acedata/videos-request") == (pack("acedata"), "videos-request")


def test_a_dialect_name_is_one_path_segment() -> None:
    base = pack("acedata")
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__ if not f.startswith("_")}
    with pytest.raises(ValueError, match="one path segment"):
        Pack(**{**fields, "name": "a/b"})
