"""Temporary: `contract_tests` still imports this old path; it is
`mock_server.web.transports` (issue 12), except ``DEFAULT_BASE_URLS``, which is the
dialect's: `mock_server.acedata.DEFAULT_BASE_URLS`. Goes once contract_tests imports the
new paths."""

from mock_server.acedata import DEFAULT_BASE_URLS
from mock_server.web.transports import (
    AppAnswer,
    async_httpx_transport,
    call_app,
    httpx_transport,
    responses_mock,
)

__all__ = [
    "DEFAULT_BASE_URLS",
    "AppAnswer",
    "async_httpx_transport",
    "call_app",
    "httpx_transport",
    "responses_mock",
]
