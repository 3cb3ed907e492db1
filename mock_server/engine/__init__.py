"""The engine: the fake's behaviour as plain Python, whatever the API it speaks.

Tasks and their store, the clock and the scheduler that moves them, delays, callbacks
(with their sender), the journal, scenario rules, faults, credit and rate limits, error
codes, settings, and the service that runs a call through all of them — with its control
side (moving time, ending tasks, waiting, reset) and the seam a dialect plugs into.

It may import the standard library and its own modules only: no web framework or
server, no dialect, no harness, no contract suites. (The one third-party import is
``httptools`` in `sender`, which reads the answers to callbacks.)
"""
