"""Contract suites for the Luma video API: the contract as code, and checks of any server
and any client against it. Imports stay lazy so that the pytest plugin costs nothing."""
