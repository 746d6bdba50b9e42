"""The media models: items (``items``), what their analysis stored (``evidence``), a video's
shots (``video``), reprocessing runs (``runs``), and what the index reconciler's checks
found (``checks``).

Django loads an app's models from this module, so it names them all.
"""

from .checks import IndexCheck
from .evidence import SemanticProfile, Tag
from .items import MediaItem, MediaQuerySet
from .runs import ReprocessRun
from .video import Shot

__all__ = [
    "IndexCheck",
    "MediaItem",
    "MediaQuerySet",
    "ReprocessRun",
    "SemanticProfile",
    "Shot",
    "Tag",
]
