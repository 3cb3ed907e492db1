"""Temporary: `contract_tests` still imports this old path; it is `mock_server.engine.delays`
(issue 12). Goes once contract_tests imports the new one."""

import sys

from mock_server.engine import delays as _module

sys.modules[__name__] = _module
