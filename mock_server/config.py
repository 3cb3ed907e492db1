"""Kept for existing imports: this path is `mock_server.engine.config` (issue 12)."""

import sys

from mock_server.engine import config as _module

sys.modules[__name__] = _module
