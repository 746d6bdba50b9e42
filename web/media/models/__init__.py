"""The media models: items (``items``) and what their analysis stored (``evidence``).

Django loads an app's models from this module, so it names them all.
"""

from .evidence import SemanticProfile, Tag
from .items import MediaItem, MediaQuerySet

__all__ = ["MediaItem", "MediaQuerySet", "SemanticProfile", "Tag"]
