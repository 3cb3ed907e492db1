"""Kept for existing imports: this path is `mock_server.web.app` (issue 12)."""

import sys

from mock_server.web import app as _module

sys.modules[__name__] = _module
