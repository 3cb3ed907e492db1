"""The x402 pay-per-call gateway the fake can play (`serve --x402`)."""
