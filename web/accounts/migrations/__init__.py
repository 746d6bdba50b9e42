"""Schema and data migrations of the accounts app (the role groups)."""
