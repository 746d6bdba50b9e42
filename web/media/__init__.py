"""Media: uploaded items with their tags and evidence, the writes on them (``actions``), the
worker's tasks, the search index rows (``indexing``), pages, files and the media API."""
