"""Temporary: `contract_tests` still imports this old path; it is
`mock_server.harness.process` (issue 12). Goes once contract_tests imports the new one."""

import sys

from mock_server.harness import process as _module

sys.modules[__name__] = _module
