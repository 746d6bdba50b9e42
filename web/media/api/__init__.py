"""The media API: serializers, the viewset and its routes."""
