"""A cassette opened for replay: read with the format's reader (`cassettes.format`), and
refused — naming the line — if replay could not trust it (not JSON, or a line the schema
refuses: a hand edit's undecodable body would otherwise be a 500 at the request that
met it); a torn last line (a recording killed mid-write) is only a warning."""

from __future__ import annotations

import os

from ..cassettes.check import line_problems
from ..cassettes.format import CASSETTE_VERSION, Cassette, read_cassette


def open_cassette(path: str | os.PathLike[str]) -> Cassette:
    """The cassette at ``path``, or ValueError saying what is wrong with it."""
    cassette = read_cassette(path)
    if cassette.header is None:
        raise ValueError(f"{path}: line 1 is not a cassette header")
    version = cassette.header.get("version")
    if version != CASSETTE_VERSION:
        raise ValueError(
            f"{path}: cassette version {version!r}; this replay reads {CASSETTE_VERSION}"
        )
    if cassette.broken:
        raise ValueError(f"{path}: {cassette.broken[0][1]}")
    for number, event in enumerate(cassette.events, start=2):  # line 1: the header
        problems = line_problems(number, event)
        if problems:
            more = (
                f" (and {len(problems) - 1} more; luma-mock cassette check)" if problems[1:] else ""
            )
            raise ValueError(f"{path}: {problems[0]}{more}")
    return cassette
