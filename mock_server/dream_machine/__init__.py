"""Luma's own Dream Machine API (``api.lumalabs.ai/dream-machine/v1``, the ``lumaai``
SDKs), as the fake speaks it: the second dialect, beside `mock_server.acedata`. All 13
SDK calls — video and image creation, get, list, delete, upscale, audio, reframe image
and video, modify video, concepts, ping, credits (and camera motions, since removed
from the SDK) — with callbacks on dreaming, completed and failed. `requests` serves the
first ones, `edits` those that make a generation from media that exist already,
`document` is its OpenAPI document.

How one process serves both dialects: an engine per dialect, the second made with
`Engine.sibling` from the first, sharing the settings, the clock, the scheduler, the
journal and the accounts, each with its own tasks, rules, callbacks and seeded ids.
Why: what a task *is* (its record, media, callback body) is its dialect's, and the
engine renders a task through ``engine.dialect`` in a dozen places; one engine holding
several dialects would have to tag every task and thread the dialect through each of
them. Siblings keep the engine single-dialect inside and still move on one clock, show
in one journal and charge one credit balance per token; a reset or close of the first
reaches the others. The HTTP layer puts each engine's routes in front of the next
(`mock_server.web.app.create_app`), the AceDataCloud routes first, so its exact-path
lookup stays the first thing a request meets.

It may import the engine and the contract; never the HTTP layer or the other dialect.
"""

from .dialect import DEFAULT_BASE_URLS, DIALECT, PREFIX, DreamMachineDialect

__all__ = ["DEFAULT_BASE_URLS", "DIALECT", "PREFIX", "DreamMachineDialect"]
