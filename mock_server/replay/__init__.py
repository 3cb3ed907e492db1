"""Replay: a recorded cassette served as the provider, offline, on the fake's clock
(`luma-mock replay FILE`). Engine level: no web framework; the HTTP front is
`mock_server.web.replay`."""

from .matching import Asked, Matcher
from .player import UNMATCHED_HEADER, Answer, NotRecorded, Player

__all__ = ["UNMATCHED_HEADER", "Answer", "Asked", "Matcher", "NotRecorded", "Player"]
