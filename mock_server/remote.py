"""Temporary: `contract_tests` still imports this old path; it is
`mock_server.harness.remote` (issue 12). Goes once contract_tests imports the new one."""

import sys

from mock_server.harness import remote as _module

sys.modules[__name__] = _module
