"""Temporary: ``mock_server.app`` and ``mock_server.cli`` import this path; it is
`contract_tests.contract.openapi` now (issue 12). Remove it once they import that.

An alias, not a copy: the module object is the real one, so attribute lookups and
monkeypatching reach it."""

import sys

from contract_tests.contract import openapi as _module

sys.modules[__name__] = _module
