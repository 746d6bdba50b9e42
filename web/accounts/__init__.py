"""Accounts: login, API tokens, roles (groups) and their checks, the demo seed."""
