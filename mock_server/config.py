"""Kept for existing imports: this path is `mock_server.engine.config` (issue 12)."""

import sys

import mock_server.acedata  # noqa: F401  # registers the error codes a Settings' rules name
from mock_server.engine import config as _module

sys.modules[__name__] = _module
