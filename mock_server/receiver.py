"""Kept for existing imports: this path is `mock_server.harness.receiver` (issue 12)."""

import sys

from mock_server.harness import receiver as _module

sys.modules[__name__] = _module
