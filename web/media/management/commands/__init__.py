"""``manage.py reindex``: rebuild the search index from the database."""
