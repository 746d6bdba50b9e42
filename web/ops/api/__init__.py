"""The operations API: the health endpoint."""
