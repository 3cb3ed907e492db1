"""Luma's own Dream Machine API (``api.lumalabs.ai/dream-machine/v1``, the ``lumaai``
SDKs): its pack, and the suites' half of it. The fake's half is
`mock_server.dream_machine`; the contract is in ``schemas/dream-machine/`` and
``fixtures/{examples,media}/dream-machine/``.

Only `PACK` is loaded with the registry; the suites load the modules beside it by name
(`contract_tests.contract.packs.Pack.load`).
"""

from __future__ import annotations

from ..contract.packs import Pack, contract_folders

PACK = Pack(
    name="dream-machine",
    title="Luma Dream Machine API",
    **contract_folders("dream-machine"),
    path_prefix="/dream-machine/v1",
    error_schema="error",
    billable=(
        "POST /generations",  # the create path before SDK 1.12
        "POST /generations/video",
        "POST /generations/image",
        "POST /generations/image/reframe",
        "POST /generations/video/reframe",
        "POST /generations/video/modify",
        # Upscale and audio of an existing generation make a new, paid one.
        "POST /generations/{id}/upscale",
        "POST /generations/{id}/audio",
    ),
    real_service="https://api.lumalabs.ai",
    token_env=("LUMAAI_API_KEY", "LUMA_TOKEN"),
    fake="mock_server.dream_machine:DIALECT",
    suite=__name__,
)
