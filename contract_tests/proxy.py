"""Temporary: ``mock_server.cli`` imports this path (``luma-mock proxy``); it is
`contract_tests.consumer.proxy` now (issue 12). Remove it once the CLI imports that.

An alias, not a copy: the module object is the real one, so attribute lookups and
monkeypatching reach it."""

import sys

from contract_tests.consumer import proxy as _module

sys.modules[__name__] = _module
