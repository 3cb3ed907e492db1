"""The pay-per-call gateway (``serve --x402``): AceDataCloud's x402 gateway, played
offline. A paid call without a payment is answered 402 with a challenge (`offers`); a
payment (the ``PAYMENT-SIGNATURE`` header, `envelope`) is verified as a gateway verifies
it — the EIP-712 signature with eth-account (`verify`), a Solana transaction with solders
(`solana`) — claimed on the fake's ledger (`mock_server.engine.payments`), and settled only
when the call succeeds (`gateway`). Nothing here reaches a chain.

Plain Python and the x402 extra's libraries (``luma-mock[x402]``): no web framework. The
HTTP layer puts `gateway.Gateway` in front of the calls a pack declares paid.
"""
