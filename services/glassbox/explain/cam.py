"""Class activation map maths and rendering (numpy + Pillow, no scipy).

Computing a map (``upsample``, ``combine``, ``region_box``) is kept apart from drawing it
(``render_heatmap_png``).

Negative evidence: a CAM cell ``W_c · F(h, w)`` can be negative, meaning the features there
argue *against* class c. A heat map shows where the evidence *for* a concept lies, so
``upsample`` clips at 0 before normalising. Negative cells become cold rather than pulling the
scale down, and a map with no positive evidence at all is entirely cold.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

from glassbox.evidence_types import Box
from glassbox.explain.regions import largest_component_bounds

# Control points of the heat colormap (position, RGB): near-black violet through crimson and
# orange to pale yellow. Lightness rises monotonically, so hotter always reads as brighter.
_COLORMAP_STOPS: tuple[tuple[float, tuple[int, int, int]], ...] = (
    (0.00, (20, 11, 52)),
    (0.25, (101, 21, 110)),
    (0.50, (188, 55, 84)),
    (0.75, (245, 125, 21)),
    (1.00, (250, 253, 160)),
)
# Heat below this level is fully transparent in the overlay.
_COLD = 0.15
_FLAT_EPS = 1e-8


def combine(cams: np.ndarray, weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """Weighted sum of ``k`` maps ``[k, h, w]`` -> ``[h, w]`` (float32).

    CAMs are linear in the classifier weights, so this is the CAM of the weighted mixture.
    """
    stack = np.asarray(cams, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if stack.ndim != 3 or w.shape != (stack.shape[0],):
        raise ValueError(f"need cams [k,h,w] and k weights, got {stack.shape} and {w.shape}")
    return np.tensordot(w, stack, axes=1).astype(np.float32)


def upsample(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a map to ``(H, W)``, clipped at 0 and min-max scaled into [0, 1].

    Pixel centres are aligned (``align_corners=False``), so each source cell covers the same
    fraction of the output as of the input. A flat map carries no localisation and comes
    back as all zeros.
    """
    src = np.maximum(np.asarray(cam, dtype=np.float64), 0.0)
    if src.ndim != 2 or src.size == 0:
        raise ValueError(f"need a non-empty 2-D map, got shape {src.shape}")
    out_h, out_w = size
    rows = _interp_matrix(src.shape[0], out_h)
    cols = _interp_matrix(src.shape[1], out_w)
    heat = rows @ src @ cols.T
    low, high = heat.min(), heat.max()
    if high - low < _FLAT_EPS:
        return np.zeros((out_h, out_w), dtype=np.float32)
    return ((heat - low) / (high - low)).astype(np.float32)


def region_box(heat: np.ndarray, rel: float = 0.5) -> Box:
    """Bounding box ``(x0, y0, x1, y1)``, as fractions of width and height, of the largest
    4-connected region where ``heat >= rel * heat.max()``.

    "Largest" is by pixel count (``regions.largest_component_bounds``). A map with no positive
    heat gives the whole image.
    """
    heat = np.asarray(heat, dtype=np.float64)
    if heat.ndim != 2 or heat.size == 0:
        raise ValueError(f"need a non-empty 2-D map, got shape {heat.shape}")
    peak = heat.max()
    if peak <= 0:
        return (0.0, 0.0, 1.0, 1.0)
    mask = heat >= rel * peak
    top, left, bottom, right = largest_component_bounds(mask)
    h, w = mask.shape
    return (left / w, top / h, (right + 1) / w, (bottom + 1) / h)


def render_heatmap_png(heat: np.ndarray, alpha_max: float = 0.6) -> bytes:
    """An RGBA PNG overlay of a [0, 1] map: coloured by heat, transparent where cold."""
    h = np.clip(np.asarray(heat, dtype=np.float64), 0.0, 1.0)
    if h.ndim != 2:
        raise ValueError(f"need a 2-D map, got shape {h.shape}")
    stops = np.array([s for s, _ in _COLORMAP_STOPS])
    colours = np.array([c for _, c in _COLORMAP_STOPS], dtype=np.float64)
    rgb = np.stack([np.interp(h, stops, colours[:, ch]) for ch in range(3)], axis=-1)
    alpha = alpha_max * np.clip((h - _COLD) / (1.0 - _COLD), 0.0, 1.0)
    rgba = np.concatenate([rgb, 255.0 * alpha[..., None]], axis=-1)
    image = Image.fromarray(np.round(rgba).astype(np.uint8))  # [h,w,4] -> RGBA
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _interp_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``[n_out, n_in]`` matrix of 1-D linear interpolation weights, centres aligned."""
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0, n_in - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = pos - lo
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), lo), 1.0 - frac)
    np.add.at(m, (np.arange(n_out), hi), frac)
    return m


def box_grid(box: Sequence[float], shape: tuple[int, int]) -> np.ndarray:
    """A map on a ``shape`` grid holding the fraction of each cell that ``box``
    (x0, y0, x1, y1 as fractions) covers: the heat map of a read line of text."""
    rows, cols = shape
    x0, y0, x1, y1 = (min(max(float(v), 0.0), 1.0) for v in box)
    return np.outer(_coverage(y0, y1, rows), _coverage(x0, x1, cols)).astype(np.float32)


def _coverage(low: float, high: float, n: int) -> np.ndarray:
    """The fraction of each of ``n`` equal cells of [0, 1] that ``[low, high]`` covers."""
    edges = np.arange(n + 1) / n
    return np.clip((np.minimum(edges[1:], high) - np.maximum(edges[:-1], low)) * n, 0, 1)
