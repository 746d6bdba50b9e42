"""Schema migrations of the media app."""
