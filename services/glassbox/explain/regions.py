"""Region geometry: boxes, their areas, unions and relative positions, and the connected
regions of a map (numpy only).

A box (``glassbox.evidence_types.Box``) is ``(x0, y0, x1, y1)`` as fractions of the image's
width and height. Regions are
4-connected: pixels that touch only at a corner are apart. :func:`label_components` is the one
labelling routine; the evidence box of a tag (``glassbox.explain.cam.region_box``) and the
counted regions of a caption (:func:`separate_regions`) are both read from its labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from glassbox.evidence_types import Box

# Cells on the longer side of the grid an evidence region is measured on: the tags' boxes and
# the caption's regions use the same grid, so a phrase and its tag point at the same box.
REGION_GRID = 112


def region_grid(aspect: tuple[int, int]) -> tuple[int, int]:
    """``(rows, cols)`` of a grid with the image's ``(height, width)`` aspect ratio and
    :data:`REGION_GRID` cells on its longer side."""
    height, width = aspect
    scale = REGION_GRID / max(height, width, 1)
    return max(1, round(height * scale)), max(1, round(width * scale))


def area(box: Box) -> float:
    """The area of ``box`` as a fraction of the image (0 for an empty box)."""
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def union_box(boxes: Sequence[Sequence[float]]) -> Box:
    """The smallest box holding all ``boxes``."""
    xs0, ys0, xs1, ys1 = zip(*boxes, strict=True)
    return (float(min(xs0)), float(min(ys0)), float(max(xs1)), float(max(ys1)))


def relation(a: Box, b: Box, overlap_max: float, gap: float) -> str | None:
    """Where box ``a`` lies relative to box ``b`` ("on the left of", "on the right of",
    "above", "below"), from their centres along the dominant axis, or ``None`` unless they
    are clearly apart: they share at most ``overlap_max`` of the smaller box and their centres
    are at least ``gap`` apart."""
    inter = area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    smaller = min(area(a), area(b))
    if smaller <= 0 or inter > overlap_max * smaller:
        return None
    dx = (a[0] + a[2]) / 2 - (b[0] + b[2]) / 2
    dy = (a[1] + a[3]) / 2 - (b[1] + b[3]) / 2
    if abs(dx) >= abs(dy):
        if abs(dx) < gap:
            return None
        return "on the left of" if dx < 0 else "on the right of"
    if abs(dy) < gap:
        return None
    return "above" if dy < 0 else "below"


def label_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected component labels of a 2-D boolean mask: ``(labels, n)``, with labels
    ``1..n`` numbered in raster order of each component's first pixel and 0 for background.

    Horizontal runs are labelled row by row and runs that overlap a run in the row above are
    united, so the Python loop is over runs, not pixels.
    """
    mask = np.asarray(mask, dtype=bool)
    runs: list[tuple[int, int, int]] = []  # (row, start, end exclusive)
    parent: list[int] = []

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    previous: list[int] = []
    for row in range(mask.shape[0]):
        edges = np.diff(np.concatenate(([0], mask[row].astype(np.int8), [0])))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        current = []
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            idx = len(runs)
            runs.append((row, start, end))
            parent.append(idx)
            for other in previous:
                _, o_start, o_end = runs[other]
                if o_start < end and start < o_end:
                    parent[find(idx)] = find(other)
            current.append(idx)
        previous = current

    labels = np.zeros(mask.shape, dtype=np.int32)
    numbers: dict[int, int] = {}
    for idx, (row, start, end) in enumerate(runs):
        labels[row, start:end] = numbers.setdefault(find(idx), len(numbers) + 1)
    return labels, len(numbers)


def largest_component_bounds(mask: np.ndarray) -> tuple[int, int, int, int]:
    """``(top, left, bottom, right)``, inclusive, of the largest 4-connected component of a
    non-empty ``mask``, by pixel count; of equals, the one that starts first in raster order."""
    labels, n = label_components(mask)
    if n == 0:
        raise ValueError("the mask has no pixel set")
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    rows, cols = np.nonzero(labels == 1 + int(np.argmax(sizes)))
    return int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())


def separate_regions(
    heat: np.ndarray, low: float = 0.35, high: float = 0.7, rel: float = 0.5
) -> list[Box]:
    """Boxes of the clearly separate hot regions of a map, largest first.

    A region is a 4-connected component of ``heat >= low * peak`` that reaches
    ``high * peak`` somewhere; its box bounds its pixels at ``rel * peak`` or above.
    Regions that merge above ``low`` count as one.
    """
    heat = np.asarray(heat, dtype=np.float64)
    peak = float(heat.max()) if heat.size else 0.0
    if peak <= 0:
        return []
    labels, n = label_components(heat >= low * peak)
    h, w = heat.shape
    found = []
    for k in range(1, n + 1):
        part = labels == k
        if heat[part].max() < high * peak:
            continue
        ys, xs = np.nonzero(part & (heat >= rel * peak))
        box = (xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h)
        found.append((int(part.sum()), box))
    found.sort(key=lambda f: -f[0])
    return [tuple(float(v) for v in box) for _, box in found]  # type: ignore[misc]
