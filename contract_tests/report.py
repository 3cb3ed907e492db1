"""Kept for existing imports (``from contract_tests.report import render``, as the README
shows; ``mock_server.cli`` imports `add_verify_arguments` and `run_verify` from here for
now): this path is `contract_tests.provider.report` (issue 12).

An alias, not a copy: the module object is the real one, so attribute lookups and
monkeypatching reach it."""

import sys

from contract_tests.provider import report as _module

sys.modules[__name__] = _module
