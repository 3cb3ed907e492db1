"""A toy third dialect, registered from outside luma-mock's packages (the
``toy_dialect-0.1.dist-info`` beside this folder puts it in the ``luma_mock.dialects``
entry-point group when ``tests/toy`` is on ``PYTHONPATH``). It proves that a dialect is
one pack: no line of ``mock_server`` or ``contract_tests`` names it.

The API: ``POST /toy/v1/jobs`` ``{"prompt", "callback_url"?}`` makes a job (201, the
job); ``GET /toy/v1/jobs/{id}`` shows it (queued, running, done with an ``output`` URL,
or failed with a ``problem``); a job with a callback URL is POSTed there when it ends;
every error is ``{"oops": "<message>"}``. Its halves: `fake` (the server's), and the
suites' modules beside it.
"""

from __future__ import annotations

from pathlib import Path

from contract_tests.contract.packs import Pack

HERE = Path(__file__).resolve().parent

PACK = Pack(
    name="toy",
    title="Toy jobs API",
    schemas=HERE / "schemas",
    examples=HERE / "examples",
    media=HERE / "media",
    path_prefix="/toy/v1",
    error_schema="error",
    billable=("POST /jobs",),
    real_service="https://toy.invalid",
    token_env=("TOY_TOKEN",),
    fake="toy_dialect.fake:DIALECT",
    suite="toy_dialect",
)
