"""Heat-map overlays rendered on request from stored 7x7 CAMs (nothing cached on disk)."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
from glassbox.explain import cam
from PIL import Image

from .models import MediaItem, SemanticProfile, Shot, Tag

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
    grid = _mixed(profile.cams, terms)
    if grid is None:
        return cam.render_heatmap_png(np.zeros(overlay_size(item), dtype=np.float32))
    return _render(item, grid)


def _mixed(cams: Mapping[str, list], terms: Sequence[tuple[int | str, float]]) -> np.ndarray | None:
    """The weighted sum of the named stored CAMs (unknown names skipped); None if none is known."""
    known = [(cams[str(cid)], weight) for cid, weight in terms if str(cid) in cams]
    if not known:
        return None
    stack = np.asarray([grid for grid, _ in known], dtype=np.float32)
    return cam.combine(stack, [weight for _, weight in known])


# -- a video window: its keyframe with a heat map blended in (one JPEG) --------------------


def shot_tag_heatmap(shot: Shot, concept_id: int) -> bytes | None:
    """The window's keyframe with the CAM of ``concept_id`` on it; None if it has none."""
    grid = (shot.cams or {}).get(str(concept_id))
    if grid is None:
        return None
    return keyframe_with_heat(shot, np.asarray(grid, dtype=np.float32))


def shot_query_heatmap(shot: Shot, terms: Sequence[tuple[int | str, float]]) -> bytes:
    """The window's keyframe with the weighted sum of its CAMs of the named concepts (a search
    moment's evidence); the bare keyframe when it holds none of them."""
    return keyframe_with_heat(shot, _mixed(shot.cams or {}, terms))


def keyframe_with_heat(shot: Shot, grid: np.ndarray | None, quality: int = 85) -> bytes:
    """A JPEG of the keyframe, longest side OVERLAY_SIDE, with the heat overlay composited.
    Raises ``FileNotFoundError`` when the keyframe file is missing."""
    if not shot.keyframe or not shot.keyframe.name:
        raise FileNotFoundError("the window has no keyframe")
    with shot.keyframe.open("rb") as fh:
        frame = Image.open(fh)
        frame.load()
    frame = frame.convert("RGB")
    scale = OVERLAY_SIDE / max(frame.width, frame.height, 1)
    size = (max(1, round(frame.width * scale)), max(1, round(frame.height * scale)))
    frame = frame.resize(size, Image.Resampling.BILINEAR).convert("RGBA")
    if grid is not None:
        heat = cam.upsample(grid, (size[1], size[0]))
        overlay = Image.open(io.BytesIO(cam.render_heatmap_png(heat))).convert("RGBA")
        frame = Image.alpha_composite(frame, overlay)
    out = io.BytesIO()
    frame.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _render(item: MediaItem, grid: np.ndarray) -> bytes:
    return cam.render_heatmap_png(cam.upsample(grid, overlay_size(item)))
