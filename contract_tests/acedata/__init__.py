"""The AceDataCloud Luma API (``POST /luma/videos``, ``POST /luma/tasks``): its pack, and
the suites' half of it. The fake's half is `mock_server.acedata`; the contract is in
``schemas/acedata/`` and ``fixtures/{examples,media}/acedata/``.

Only `PACK` is loaded with the registry; the suites load the modules beside it by name
(`contract_tests.contract.packs.Pack.load`).
"""

from __future__ import annotations

from ..contract.packs import Pack, contract_folders

PACK = Pack(
    name="acedata",
    title="AceDataCloud Luma API",
    **contract_folders("acedata"),
    path_prefix="",
    error_schema="error",
    billable=("POST /luma/videos",),
    real_service="https://api.acedata.cloud",
    token_env=("LUMA_TOKEN", "ACEDATACLOUD_API_TOKEN"),
    fake="mock_server.acedata:DIALECT",
    suite=__name__,
    x402=True,  # the provider's x402 gateway sells these calls per call
)
