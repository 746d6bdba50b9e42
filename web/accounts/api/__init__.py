"""The accounts API: exchange a username and password for a token."""
