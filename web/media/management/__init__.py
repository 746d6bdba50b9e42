"""Management commands of the media app."""
