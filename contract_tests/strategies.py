"""Kept for existing imports (``from contract_tests import strategies``, as the README
shows): this path is `contract_tests.acedata.strategies` (issue 21).

An alias, not a copy: the module object is the package's, so attribute lookups and
monkeypatching reach the real one."""

import sys

from contract_tests.acedata import strategies as _module

sys.modules[__name__] = _module
