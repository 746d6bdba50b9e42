"""Heat-map overlays rendered on request from stored 7x7 CAMs (nothing cached on disk)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
from glassbox.explain import cam

from .models import MediaItem, SemanticProfile, Tag

OVERLAY_SIDE = 448
MAX_TERMS = 16
_TERM = re.compile(r"^(t?\d{1,5}):(-?\d{1,6}(?:\.\d{1,8})?(?:[eE]-?\d{1,2})?)$")


class BadHeatmapParameter(ValueError):
    """The ``c`` parameter is not ``<concept_id>:<weight>[,...]`` (``t<i>`` names read text)."""


def parse_terms(raw: str | None) -> list[tuple[int | str, float]]:
    """Parse ``"207:0.41,t0:0.12"`` into ``[(207, 0.41), ("t0", 0.12)]``."""
    if raw is None or not raw.strip():
        raise BadHeatmapParameter("c is required: comma-separated <concept_id>:<weight> pairs")
    parts = raw.split(",")
    if len(parts) > MAX_TERMS:
        raise BadHeatmapParameter(f"c may hold at most {MAX_TERMS} terms")
    terms: list[tuple[int, float]] = []
    for part in parts:
        match = _TERM.match(part.strip())
        if match is None:
            raise BadHeatmapParameter(f"c term {part.strip()[:40]!r} is not <concept_id>:<weight>")
        weight = float(match.group(2))
        if not math.isfinite(weight):
            raise BadHeatmapParameter("c weights must be finite numbers")
        key = match.group(1)
        terms.append((key if key.startswith("t") else int(key), weight))
    return terms


def overlay_size(item: MediaItem) -> tuple[int, int]:
    """(height, width) of the overlay: the item's aspect ratio, longest side OVERLAY_SIDE."""
    scale = OVERLAY_SIDE / max(item.width, item.height, 1)
    return max(1, round(item.height * scale)), max(1, round(item.width * scale))


def tag_heatmap(item: MediaItem, tag: Tag) -> bytes:
    return _render(item, np.asarray(tag.cam, dtype=np.float32))


def query_heatmap(
    item: MediaItem, profile: SemanticProfile, terms: Sequence[tuple[int, float]]
) -> bytes:
    """The weighted sum of the stored CAMs of the named concepts; unknown concepts are skipped."""
    known = [
        (profile.cam_for(cid), weight) for cid, weight in terms if profile.cam_for(cid) is not None
    ]
    if not known:
        return cam.render_heatmap_png(np.zeros(overlay_size(item), dtype=np.float32))
    stack = np.asarray([grid for grid, _ in known], dtype=np.float32)
    return _render(item, cam.combine(stack, [weight for _, weight in known]))


def _render(item: MediaItem, grid: np.ndarray) -> bytes:
    return cam.render_heatmap_png(cam.upsample(grid, overlay_size(item)))
