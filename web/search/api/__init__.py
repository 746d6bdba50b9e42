"""The search REST API: text search, "find similar" and query by image (serializers, views,
routes)."""
