"""Relevance people can compare across queries: calibrated per-channel probabilities.

A raw cosine means different things for different queries: "dog" scores 0.5 against a dog
photo, while a vague query scores 0.4 against everything. So each channel's evidence is turned
into a probability that the item is relevant, and those are combined:

- **semantic** (ConSE vector, a text query): the cosine ``s`` is first standardised against a
  background, the same query's cosines with the 1000 ImageNet class embeddings (what typical
  single-subject images look like in this space): ``z = (s - mean) / std``. Then
  ``P = sigmoid(a + b z)``, with ``a`` and ``b`` fitted by logistic regression on the judged
  queries in ``eval_data/queries.json`` (``python -m glassbox.evaluation`` refits them and
  reports their leave-one-query-out calibration; ``SEMANTIC_A``/``SEMANTIC_B`` below are its
  output, and ``tests/models/test_evaluate.py`` checks that they still agree).
- **caption** and **OCR** (lexical): ``P = prior x coverage``, where coverage is the share of
  the query's content words found in the caption or in the read text. The priors (0.7 for the
  generated caption, 0.9 for literal read text) are set by judgement, not fitted: the judged
  set has too few photos with text to fit them. Documented as such.
- **combined**: the channels are treated as independent witnesses (noisy-OR),
  ``1 - prod(1 - P_c)``. A result is shown by default when it reaches ``DEFAULT_CUTOFF``.

For "find similar" (an image query) there is no judged set: the similarity is the mean of the
appearance cosine and the semantic cosine of the two items, shown as such; its cut-off and the
near-duplicate threshold come from the sample corpus (numbers below, and ``docs/search.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

# Fitted by `python -m glassbox.evaluation` (section "Relevance calibration"), 2026-11-28.
SEMANTIC_A = -6.357
SEMANTIC_B = 1.968
CAPTION_PRIOR = 0.7
OCR_PRIOR = 0.9
DEFAULT_CUTOFF = 0.3  # best held-out F1 of 0.1..0.6 on the judged set (evaluate prints them)
# Measured by `python -m glassbox.evaluation` (section 5) on the 19 sample photos: different photos
# reach an appearance cosine of at most 0.754 and a similarity of at most 0.816 (the pairs share
# a subject: horses.jpg and person.jpg both show horses); copies at half size, JPEG quality 40
# or mirrored keep an appearance cosine of at least 0.947.
SIMILAR_CUTOFF = 0.6
NEAR_DUPLICATE = 0.9  # appearance cosine at or above which two items are grouped


@dataclass(frozen=True)
class Background:
    """The query's cosine distribution over the background (typical single-subject images)."""

    mean: float
    std: float

    def z(self, score: float) -> float:
        return (score - self.mean) / self.std


def background(query: np.ndarray, class_embeddings: np.ndarray) -> Background:
    scores = np.asarray(class_embeddings, dtype=np.float32) @ np.asarray(query, dtype=np.float32)
    return Background(float(scores.mean()), max(float(scores.std()), 1e-6))


def sigmoid(x: float | np.ndarray) -> float | np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def semantic_probability(z: float, a: float = SEMANTIC_A, b: float = SEMANTIC_B) -> float:
    return float(sigmoid(a + b * z))


def lexical_probability(coverage: float, prior: float) -> float:
    return float(prior * min(max(coverage, 0.0), 1.0))


def combine(probabilities: Iterable[float]) -> float:
    """Noisy-OR of independent channel probabilities."""
    miss = 1.0
    for p in probabilities:
        miss *= 1.0 - min(max(float(p), 0.0), 1.0)
    return 1.0 - miss


def similarity(appearance_cosine, semantic_cosine):
    """The "find similar" score: the mean of the two cosines (each in [-1, 1]); floats or
    arrays."""
    return 0.5 * (appearance_cosine + semantic_cosine)


# --- fitting (used by glassbox.evaluation) ----------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    a: float
    b: float
    brier: float  # leave-one-query-out Brier score of the calibrated probabilities
    brier_base_rate: float  # the Brier score of always answering the base rate
    reliability: list[tuple[str, int, float, float]]  # (bin, n, mean predicted, observed rate)
    cutoff_precision: float  # over the judged pairs, at DEFAULT_CUTOFF (leave-one-query-out)
    cutoff_recall: float
    cutoffs: list[tuple[float, float, float]]  # (cut-off, precision, recall), held out


def fit_logistic(
    z: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 100
) -> tuple[float, float]:
    """Maximum-likelihood ``(a, b)`` of ``P(y=1) = sigmoid(a + b z)`` by Newton's method."""
    x = np.stack([np.ones_like(z, dtype=np.float64), np.asarray(z, dtype=np.float64)], axis=1)
    t = np.asarray(y, dtype=np.float64)
    w = np.zeros(2)
    for _ in range(steps):
        p = sigmoid(x @ w)
        grad = x.T @ (p - t) + l2 * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + l2 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return float(w[0]), float(w[1])


def calibrate(groups: Sequence[tuple[np.ndarray, np.ndarray]]) -> Calibration:
    """Fit on ``groups`` (per query: z-scores of every judged item, 0/1 relevance) and report
    leave-one-query-out calibration: each query's probabilities come from a fit without it."""
    z_all = np.concatenate([z for z, _ in groups])
    y_all = np.concatenate([y for _, y in groups]).astype(np.float64)
    a, b = fit_logistic(z_all, y_all)
    held_out = []
    for k in range(len(groups)):
        rest = [g for j, g in enumerate(groups) if j != k]
        ak, bk = fit_logistic(
            np.concatenate([z for z, _ in rest]), np.concatenate([y for _, y in rest])
        )
        held_out.append(sigmoid(ak + bk * groups[k][0]))
    p = np.concatenate(held_out)
    brier = float(np.mean((p - y_all) ** 2))
    base = float(np.mean((y_all.mean() - y_all) ** 2))
    edges = [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0001]
    reliability = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (p >= lo) & (p < hi)
        if inside.any():
            reliability.append(
                (
                    f"{lo:.1f}–{min(hi, 1.0):.1f}",
                    int(inside.sum()),
                    float(p[inside].mean()),
                    float(y_all[inside].mean()),
                )
            )

    def at(cut: float) -> tuple[float, float]:
        shown = p >= cut
        precision = float(y_all[shown].mean()) if shown.any() else 0.0
        recall = float(shown[y_all == 1].mean()) if (y_all == 1).any() else 0.0
        return precision, recall

    cutoffs = [(cut, *at(cut)) for cut in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)]
    return Calibration(a, b, brier, base, reliability, *at(DEFAULT_CUTOFF), cutoffs)
