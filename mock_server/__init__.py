"""luma-mock: a fake of the AceDataCloud Luma video API."""
