"""Luma's own Dream Machine API (``api.lumalabs.ai/dream-machine/v1``, the ``lumaai``
SDKs), as the fake speaks it: the second dialect, beside `mock_server.acedata`. All 13
SDK calls — video and image creation, get, list, delete, upscale, audio, reframe image
and video, modify video, concepts, ping, credits (and camera motions, since removed
from the SDK) — with callbacks on dreaming, completed and failed. `requests` serves the
first ones, `edits` those that make a generation from media that exist already,
`document` is its OpenAPI document.

How one process serves it beside the other dialects: an engine per dialect, as equals,
in one `mock_server.engine.fake.Fake` — one clock, journal, rule book and set of
accounts, each engine with its own tasks and callbacks (that module says why).

It may import the engine and the contract; never the HTTP layer or the other dialect.
"""

from .dialect import DEFAULT_BASE_URLS, DIALECT, PREFIX, DreamMachineDialect

__all__ = ["DEFAULT_BASE_URLS", "DIALECT", "PREFIX", "DreamMachineDialect"]
