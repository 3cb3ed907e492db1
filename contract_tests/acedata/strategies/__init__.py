"""Hypothesis strategies for the AceDataCloud Luma API's requests (the dialect's
``strategies``), derived from ``schemas/acedata/``: valid requests of every shape and
mode (`requests`), and invalid ones that each break one contract rule (`invalid`). Their
strategies and the names they take are imported here, so ``from contract_tests.acedata
import strategies`` gives all of them (the modules' own helpers stay in the modules).

The modules may import the standard library, Hypothesis, `hypothesis_jsonschema`,
`jsonschema` and `contract_tests.contract`; nothing above the contract.

Valid requests, one strategy per shape and ``mode`` (`generate_requests`,
`extend_requests`, `video_requests`; `task_requests` and the rest for ``POST
/luma/tasks``) are described in `requests`; invalid ones, each breaking exactly one
rule and labelled with it (`invalid_requests`, `breaking(endpoint, rule)`, `RULES`), in
`invalid`.
"""

from __future__ import annotations

from .invalid import (
    RULES,
    Change,
    Invalid,
    breaking,
    invalid_requests,
    invalid_task_requests,
    invalid_video_requests,
    malformed_bodies,
    rules,
    wrong_types,
)
from .requests import (
    DEFAULT_CALLBACK_URL,
    FRAMES,
    MODES,
    TASKS,
    VIDEOS,
    Mode,
    aspect_ratios,
    callback_urls,
    enum_values,
    extend_requests,
    field_schema,
    generate_requests,
    identifiers,
    image_urls,
    is_valid_field,
    prompts,
    retrieve_batch_requests,
    retrieve_requests,
    task_requests,
    timeouts,
    urls,
    video_file_urls,
    video_requests,
)

__all__ = [
    "DEFAULT_CALLBACK_URL",
    "FRAMES",
    "MODES",
    "RULES",
    "TASKS",
    "VIDEOS",
    "Change",
    "Invalid",
    "Mode",
    "aspect_ratios",
    "breaking",
    "callback_urls",
    "enum_values",
    "extend_requests",
    "field_schema",
    "generate_requests",
    "identifiers",
    "image_urls",
    "invalid_requests",
    "invalid_task_requests",
    "invalid_video_requests",
    "is_valid_field",
    "malformed_bodies",
    "prompts",
    "retrieve_batch_requests",
    "retrieve_requests",
    "rules",
    "task_requests",
    "timeouts",
    "urls",
    "video_file_urls",
    "video_requests",
    "wrong_types",
]
