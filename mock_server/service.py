"""Kept for existing imports: this path is `mock_server.acedata.service` (issue 12)."""

import sys

from mock_server.acedata import service as _module

sys.modules[__name__] = _module
