"""Local launchers for the demo and the test session (stdlib only)."""
