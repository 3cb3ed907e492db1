"""Contract suites for the AceDataCloud Luma API and Luma's own Dream Machine API: the
contract as code, and checks of any server and any client against it. Imports stay lazy
so that the pytest plugin costs nothing.

Four layers, each importing only the ones below it:

- `plugin` — the pytest plugin (``pytest11``) and the fakes it hands to tests;
- `provider` | `consumer` — the suite that checks a server (``luma-mock verify``) and
  the one that checks a client (``luma-mock verify-client``, the validating proxy);
  neither imports the other: they share only the checks and the contract;
- `checks` — the one registry of checks, and the exchanges and memory they read;
- `contract` — the schemas and fixtures in Python, the OpenAPI document, strategies,
  Hypothesis profiles and what the suites know of each API (`dialects`). It and
  `checks` import nothing of `mock_server`.
"""
