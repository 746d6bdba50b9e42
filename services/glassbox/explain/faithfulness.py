"""Is a saliency map faithful to the model? Deletion / insertion curves and counterfactuals.

Deletion and insertion (Petsiuk et al. 2018, "RISE"): rank the pixels by saliency, then

- **deletion** replaces the most salient pixels with a baseline, ``1/steps`` of the image at a
  time, and records the class score after each step. A faithful map makes the score fall
  fast: a *low* area under the curve is good;
- **insertion** starts from the baseline and puts the original pixels back in the same order.
  A faithful map makes the score rise fast: a *high* area is good.

The same curves with a random pixel order (seeded) are the reference a map has to beat.

Baselines (the choice the paper leaves open): deletion replaces pixels with the image's own
mean colour, which removes the evidence without adding new structure; insertion starts from a
strongly blurred copy, whose score is low but whose colours are the image's, so revealing
sharp pixels does not create artificial edges against a flat background. Both are plain
functions (:func:`mean_colour`, :func:`blurred`) and every curve takes its baseline image as
an argument, so a caller can choose otherwise.

AUC is the trapezoid rule over the fraction of pixels removed or revealed, ``x`` in ``[0, 1]``,
so a score in ``[0, 1]`` (a probability) gives an AUC in ``[0, 1]``.

Numpy only: the model is a ``score`` callable, ``uint8 [n, H, W, 3] -> float [n]``, for one
class. Inputs are never modified.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from glassbox.evidence_types import Box

Score = Callable[[np.ndarray], np.ndarray]

DEFAULT_STEPS = 50
DEFAULT_BATCH = 16
# Box-blur radius as a fraction of the shorter image side; three passes approximate a
# Gaussian with sigma ~ radius.
BLUR_FRACTION = 0.08
# A heat map's evidence region: heat at least this fraction of its peak (as cam.region_box).
EVIDENCE_LEVEL = 0.5


@dataclass(frozen=True)
class Curve:
    """Scores after each step: ``scores[k]`` at ``fractions[k] = k / steps`` of the pixels."""

    fractions: np.ndarray  # float64 [steps + 1], 0 .. 1
    scores: np.ndarray  # float64 [steps + 1]

    @property
    def auc(self) -> float:
        return trapezoid_auc(self.fractions, self.scores)


@dataclass(frozen=True)
class Faithfulness:
    """Deletion and insertion curves of one saliency map and of a random pixel order."""

    deletion: Curve
    insertion: Curve
    random_deletion: Curve
    random_insertion: Curve


def trapezoid_auc(x: np.ndarray, y: np.ndarray) -> float:
    """Area under ``y(x)`` by the trapezoid rule, divided by the width of ``x``."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or x.size < 2:
        raise ValueError(f"need two 1-D arrays of equal length >= 2, got {x.shape}, {y.shape}")
    width = x[-1] - x[0]
    if width <= 0:
        raise ValueError("x must increase")
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0) / width)


def mean_colour(image: np.ndarray) -> np.ndarray:
    """An image of the same shape filled with ``image``'s per-channel mean colour."""
    img = _check_image(image)
    colour = np.round(img.reshape(-1, 3).mean(axis=0)).astype(np.uint8)
    return np.broadcast_to(colour, img.shape).copy()


def blurred(image: np.ndarray, radius: int | None = None) -> np.ndarray:
    """Three passes of a separable box blur (edges replicated), about a Gaussian of ``radius``.

    The default radius is :data:`BLUR_FRACTION` of the shorter side.
    """
    img = _check_image(image).astype(np.float64)
    if radius is None:
        radius = max(1, round(BLUR_FRACTION * min(img.shape[:2])))
    for _ in range(3):
        img = _box_blur_axis(_box_blur_axis(img, radius, axis=0), radius, axis=1)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def saliency_order(saliency: np.ndarray, seed: int = 0) -> np.ndarray:
    """Flat pixel indices from most to least salient; ties are broken at random (seeded).

    Clipped maps hold many equal (zero) values; a fixed tie order would sweep them in raster
    order, a bias of its own.
    """
    s = np.asarray(saliency, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"need a 2-D saliency map, got shape {s.shape}")
    tie_break = np.random.default_rng(seed).random(s.size)
    return np.lexsort((tie_break, -s.ravel()))


def random_order(n_pixels: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n_pixels)


def sweep_curve(
    kind: str,
    image: np.ndarray,
    order: np.ndarray,
    score: Score,
    baseline: np.ndarray | None = None,
    steps: int = DEFAULT_STEPS,
    batch_size: int = DEFAULT_BATCH,
) -> Curve:
    """Scores along a ``"deletion"`` or an ``"insertion"`` sweep of the pixels in ``order``,
    ``1/steps`` of them at a time.

    - deletion: the pixels are replaced by ``baseline`` (default: the image's mean colour);
      step 0 is the intact image.
    - insertion: the pixels are copied from ``image`` onto ``baseline`` (default:
      :func:`blurred`); step 0 is the baseline, the last step the intact image.
    """
    if kind not in ("deletion", "insertion"):
        raise ValueError(f"kind must be 'deletion' or 'insertion', got {kind!r}")
    intact = _check_image(image)
    if baseline is not None:
        other = _check_image(baseline, intact.shape)
    else:
        other = mean_colour(intact) if kind == "deletion" else blurred(intact)
    start, target = (intact, other) if kind == "deletion" else (other, intact)
    return _sweep(start, target, order, score, steps, batch_size)


def faithfulness(
    image: np.ndarray,
    saliency: np.ndarray,
    score: Score,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH,
    deletion_fill: str = "mean",
) -> Faithfulness:
    """Deletion and insertion curves of ``saliency`` (``[H, W]``, same size as ``image``) and of
    a random order drawn with ``seed``. Deletion fills with the image's ``"mean"`` colour (the
    default) or its ``"blur"``red copy; insertion always starts from the blurred copy."""
    img = _check_image(image)
    if np.shape(saliency) != img.shape[:2]:
        raise ValueError(f"saliency {np.shape(saliency)} does not match image {img.shape[:2]}")
    if deletion_fill not in ("mean", "blur"):
        raise ValueError(f"deletion_fill must be 'mean' or 'blur', got {deletion_fill!r}")
    revealed = blurred(img)
    deleted = mean_colour(img) if deletion_fill == "mean" else revealed
    by_map = saliency_order(saliency, seed)
    by_chance = random_order(by_map.size, seed)

    def curves(order: np.ndarray) -> tuple[Curve, Curve]:
        return (
            sweep_curve("deletion", img, order, score, deleted, steps, batch_size),
            sweep_curve("insertion", img, order, score, revealed, steps, batch_size),
        )

    deletion, insertion = curves(by_map)
    random_deletion, random_insertion = curves(by_chance)
    return Faithfulness(deletion, insertion, random_deletion, random_insertion)


MultiScore = Callable[[np.ndarray], np.ndarray]


def faithfulness_of_maps(
    image: np.ndarray,
    saliencies: list[np.ndarray],
    score: MultiScore,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH,
    deletion_fill: str = "mean",
    intact: np.ndarray | None = None,
) -> list[Faithfulness]:
    """:func:`faithfulness` of several maps of one image, each image scored once.

    ``score`` maps images ``[n, H, W, 3]`` to scores ``[n, k]``, column ``j`` the class of
    ``saliencies[j]``. The curves are the same as ``k`` calls of :func:`faithfulness` (same
    seed, same baselines), but what they share is scored once: the random order is the same
    for every map, so its two sweeps serve all of them; and every sweep starts or ends on the
    intact image or a baseline. ``intact``, when given, is the intact image's ``[k]`` scores,
    already known to the caller. For ``k`` maps of ``steps`` steps that is
    ``2 + 2 (steps - 1) (k + 1)`` images (plus the intact one), not ``4 k (steps + 1)``.
    """
    img = _check_image(image)
    for saliency in saliencies:
        if np.shape(saliency) != img.shape[:2]:
            raise ValueError(f"saliency {np.shape(saliency)} does not match image {img.shape[:2]}")
    if deletion_fill not in ("mean", "blur"):
        raise ValueError(f"deletion_fill must be 'mean' or 'blur', got {deletion_fill!r}")
    if steps < 1 or batch_size < 1:
        raise ValueError("steps and batch_size must be at least 1")
    if not saliencies:
        return []
    revealed = blurred(img)
    deleted = mean_colour(img) if deletion_fill == "mean" else revealed
    orders = [saliency_order(s, seed) for s in saliencies]
    orders.append(random_order(orders[0].size, seed))
    # the images to score: [intact], deleted, revealed, then each order's inner steps
    images: list[np.ndarray] = [] if intact is not None else [img]
    images += [deleted, revealed]
    for order in orders:
        images += _inner_steps(img, deleted, order, steps)
        images += _inner_steps(revealed, img, order, steps)
    scores = _score_all(images, score, batch_size, len(saliencies))
    if intact is not None:
        scores = np.vstack([np.asarray(intact, dtype=np.float64).reshape(1, -1), scores])
    bounds = np.round(np.linspace(0, orders[0].size, steps + 1)).astype(np.int64)
    fractions = bounds / orders[0].size
    whole, gone, blur = scores[0], scores[1], scores[2]
    inner = steps - 1

    def curves(k: int, column: int) -> tuple[Curve, Curve]:
        """Order ``k``'s deletion and insertion curves, read in score column ``column``."""
        at = 3 + 2 * inner * k
        deleting = scores[at : at + inner, column]
        inserting = scores[at + inner : at + 2 * inner, column]
        deletion = np.concatenate([[whole[column]], deleting, [gone[column]]])
        insertion = np.concatenate([[blur[column]], inserting, [whole[column]]])
        return Curve(fractions, deletion), Curve(fractions, insertion)

    out = []
    for j in range(len(saliencies)):
        deletion, insertion = curves(j, j)
        random_deletion, random_insertion = curves(len(saliencies), j)
        out.append(Faithfulness(deletion, insertion, random_deletion, random_insertion))
    return out


def _inner_steps(
    start: np.ndarray, target: np.ndarray, order: np.ndarray, steps: int
) -> list[np.ndarray]:
    """The sweep's images at steps ``1 .. steps - 1`` (its ends are ``start`` and ``target``,
    scored once for every sweep that shares them)."""
    return _step_images(start, target, order, steps)[1:-1]


def _score_all(
    images: list[np.ndarray], score: MultiScore, batch_size: int, columns: int
) -> np.ndarray:
    """``score`` over ``images`` in batches of at most ``batch_size``: float64 ``[n, columns]``."""
    parts = []
    for at in range(0, len(images), batch_size):
        batch = np.stack(images[at : at + batch_size])
        part = np.asarray(score(batch), dtype=np.float64).reshape(len(batch), -1)
        if part.shape[1] != columns:
            raise ValueError(f"score returned {part.shape[1]} columns for {columns} maps")
        parts.append(part)
    return np.vstack(parts)


def mask_boxes(image: np.ndarray, boxes) -> np.ndarray:
    """A copy of ``image`` with every box (fractions of width and height) filled with the
    image's mean colour: the counterfactual of "the evidence is in these boxes"."""
    mask = np.zeros(image.shape[:2], dtype=bool)
    for box in boxes:
        mask |= evidence_mask(tuple(float(v) for v in box), image.shape[:2])
    out = image.copy()
    out[mask] = mean_colour(image)[mask]
    return out


def evidence_mask(box_or_heat: Box | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Boolean ``[H, W]`` mask of the evidence: a box ``(x0, y0, x1, y1)`` given as fractions
    of width and height (``cam.region_box``), or a heat map's pixels at or above
    :data:`EVIDENCE_LEVEL` of its peak (none when the map has no positive heat)."""
    height, width = size
    if isinstance(box_or_heat, tuple):
        x0, y0, x1, y1 = box_or_heat
        mask = np.zeros((height, width), dtype=bool)
        rows = slice(int(np.floor(y0 * height)), int(np.ceil(y1 * height)))
        cols = slice(int(np.floor(x0 * width)), int(np.ceil(x1 * width)))
        mask[rows, cols] = True
        return mask
    heat = np.asarray(box_or_heat, dtype=np.float64)
    if heat.shape != (height, width):
        raise ValueError(f"heat map {heat.shape} does not match image {(height, width)}")
    peak = heat.max()
    return heat >= EVIDENCE_LEVEL * peak if peak > 0 else np.zeros_like(heat, dtype=bool)


def mask_region(
    image: np.ndarray, box_or_heat: Box | np.ndarray, fill: np.ndarray | None = None
) -> np.ndarray:
    """A copy of ``image`` with the evidence region (see :func:`evidence_mask`) replaced by
    ``fill`` (default: the image's mean colour)."""
    img = _check_image(image)
    replacement = mean_colour(img) if fill is None else _check_image(fill, img.shape)
    mask = evidence_mask(box_or_heat, img.shape[:2])
    out = img.copy()
    out[mask] = replacement[mask]
    return out


def counterfactual(
    image: np.ndarray, heat: Box | np.ndarray, score: Score, fill: np.ndarray | None = None
) -> tuple[float, float]:
    """``(before, after)``: the score of the image, and of the image with its evidence region
    masked ("masking this region drops the score from 0.91 to 0.07")."""
    img = _check_image(image)
    scores = np.asarray(score(np.stack([img, mask_region(img, heat, fill)])), dtype=np.float64)
    return float(scores[0]), float(scores[1])


def _sweep(
    start: np.ndarray,
    target: np.ndarray,
    order: np.ndarray,
    score: Score,
    steps: int,
    batch_size: int,
) -> Curve:
    """Scores of ``start`` with the first ``k/steps`` of ``order``'s pixels taken from
    ``target``, for ``k = 0 .. steps``."""
    if steps < 1 or batch_size < 1:
        raise ValueError("steps and batch_size must be at least 1")
    height, width = start.shape[:2]
    order = np.asarray(order, dtype=np.int64)
    if order.shape != (height * width,):
        raise ValueError(f"order must hold all {height * width} pixels, got {order.shape}")
    images = _step_images(start, target, order, steps)
    values = np.concatenate(
        [
            np.asarray(score(np.stack(images[at : at + batch_size])), dtype=np.float64).reshape(-1)
            for at in range(0, len(images), batch_size)
        ]
    )
    if values.shape != (steps + 1,):
        raise ValueError(f"score returned {values.size} values for {steps + 1} images")
    bounds = np.round(np.linspace(0, order.size, steps + 1)).astype(np.int64)
    return Curve(fractions=bounds / order.size, scores=values)


def _step_images(
    start: np.ndarray, target: np.ndarray, order: np.ndarray, steps: int
) -> list[np.ndarray]:
    """The sweep's images at steps ``0 .. steps``: ``start`` with the first ``k/steps`` of
    ``order``'s pixels taken from ``target`` (step 0 is ``start``, the last ``target``)."""
    height, width = start.shape[:2]
    bounds = np.round(np.linspace(0, order.size, steps + 1)).astype(np.int64)
    current = start.reshape(-1, 3).copy()
    source = target.reshape(-1, 3)
    out = [start.copy()]
    for k in range(1, steps + 1):
        changed = order[bounds[k - 1] : bounds[k]]
        current[changed] = source[changed]
        out.append(current.reshape(height, width, 3).copy())
    return out


def _box_blur_axis(img: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Mean over a window of ``2 * radius + 1`` along ``axis``, edges replicated."""
    pad = [(0, 0)] * img.ndim
    pad[axis] = (radius + 1, radius)
    padded = np.pad(img, pad, mode="edge")
    sums = np.cumsum(padded, axis=axis)
    n = img.shape[axis]
    upper = np.take(sums, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
    lower = np.take(sums, np.arange(0, n), axis=axis)
    return (upper - lower) / (2 * radius + 1)


def _check_image(image: np.ndarray, shape: tuple[int, ...] | None = None) -> np.ndarray:
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"expected a uint8 [H, W, 3] image, got {img.dtype} {img.shape}")
    if shape is not None and img.shape != shape:
        raise ValueError(f"baseline {img.shape} does not match image {shape}")
    return img
