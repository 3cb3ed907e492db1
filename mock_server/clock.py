"""Kept for existing imports: this path is `mock_server.engine.clock` (issue 12)."""

import sys

from mock_server.engine import clock as _module

sys.modules[__name__] = _module
