from .evidence import SemanticProfile, Tag
from .items import MediaItem, MediaQuerySet

__all__ = ["MediaItem", "MediaQuerySet", "SemanticProfile", "Tag"]
