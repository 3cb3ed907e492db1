"""The AceDataCloud Luma API, as the fake speaks it: everything specific to that API.

Its request handling (``POST /luma/videos`` and ``POST /luma/tasks``), its answers and
records, its error envelope and codes, its media, its routes and its OpenAPI document —
gathered in `AceDataDialect` — and `LumaService`, the engine speaking this dialect.

It may import the engine (`mock_server.engine`) and the contract
(`contract_tests.contract`, its `openapi`); never the HTTP layer
(`mock_server.web`), which reaches the dialect through the engine.
"""

from .dialect import DEFAULT_BASE_URLS, DIALECT, AceDataDialect, Scenarios
from .service import LumaService

__all__ = ["DEFAULT_BASE_URLS", "DIALECT", "AceDataDialect", "LumaService", "Scenarios"]
