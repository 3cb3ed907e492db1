"""Kept for existing imports (``contract_tests.adapters.RequestsAdapter``, as the README
shows): this path is `contract_tests.acedata.adapters`.

An alias, not a copy: the module object is the real one, so attribute lookups and
monkeypatching reach it."""

import sys

from contract_tests.acedata import adapters as _module

sys.modules[__name__] = _module
