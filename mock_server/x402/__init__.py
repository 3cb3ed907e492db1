"""The pay-per-call gateway (``serve --x402``): AceDataCloud's x402 gateway, played
offline. A paid call without a payment is answered 402 with a challenge (`offers`); a
payment (the ``PAYMENT-SIGNATURE`` header, `envelope`) is verified as a gateway verifies
it — the EIP-712 signature with eth-account (`verify`), a Solana transaction with solders
(`solana`) — claimed on the fake's ledger (`mock_server.engine.payments`), and settled only
when the call succeeds (`gateway`). Nothing here reaches a chain.

Plain Python and the x402 extra's libraries (``luma-mock[x402]``): no web framework. The
HTTP layer puts `gateway.Gateway` in front of the calls a pack declares paid.
"""

import sys as _sys

# eth-account loads py_ecc, which raises the interpreter's recursion limit to 100000 as
# it is imported; with that limit a deeply nested JSON body overflows the C stack and
# kills the server instead of being refused as "nested too deeply". Loaded here first
# (every module of this package imports it after this), and the limit put back.
_limit = _sys.getrecursionlimit()
try:
    import eth_account  # noqa: F401
except ImportError:  # the extra is missing: `verify` says so when it is imported
    pass
finally:
    _sys.setrecursionlimit(_limit)
