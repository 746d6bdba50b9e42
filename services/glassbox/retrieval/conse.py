"""ConSE: images in the text-embedding space (Norouzi et al. 2014, "Zero-Shot Learning by
Convex Combination of Semantic Embeddings").

An image's semantic vector is the probability-weighted combination of its top-T concepts'
text embeddings, scaled to unit length::

    v = sum_i p_i e_i / |sum_i p_i e_i|   =   sum_i w_i e_i,   w_i = p_i / |sum_j p_j e_j|

Because ``v`` is an explicit linear combination, a text query's score ``q · v`` splits
exactly into per-concept contributions ``w_i (q · e_i)``: that split is the explanation.

Broader concepts (WordNet hypernyms such as "dog" or "vehicle", see ``glassbox.concepts``) can
join the mix with their aggregated probability, down-weighted (``broader_weight``, 0.25 by
default): at full weight they crowd out the specific classes, while a small weight lets broad
queries ("dog", "animal") find every breed without hurting specific ones. See
docs/decisions.md for the measurement behind the default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SemanticVector:
    vector: np.ndarray  # float32 [d], unit length
    concept_ids: np.ndarray  # int64 [T], by descending probability
    weights: np.ndarray  # float64 [T], vector == sum(weights[i] * E[concept_ids[i]]) + texts
    # Text terms (read text, e.g. OCR lines): vector also adds text_weights[j] * texts[j].
    text_weights: np.ndarray = field(default_factory=lambda: np.zeros(0))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis (float64)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def semantic_vector(
    probs: np.ndarray,
    embeddings: np.ndarray,
    top: int,
    broader_probs: np.ndarray | None = None,
    broader_top: int = 0,
    broader_weight: float = 0.25,
    texts: np.ndarray | None = None,
    text_mass: np.ndarray | None = None,
) -> SemanticVector:
    """The ConSE vector of the ``top`` most probable concepts.

    ``probs`` covers the first ``len(probs)`` rows of ``embeddings``; ``broader_probs``, when
    given, covers the rows after them, and its ``broader_top`` largest (non-zero) entries join
    the mix with weight ``broader_weight * probability``. ``texts`` (embeddings of text read
    in the image) join with ``text_mass``; they stay separate terms of the decomposition.
    """
    p = np.asarray(probs, dtype=np.float64)
    n_leaves = p.shape[0] if p.ndim == 1 else -1
    n_broader = 0 if broader_probs is None else len(broader_probs)
    if p.ndim != 1 or n_leaves + n_broader != embeddings.shape[0]:
        raise ValueError(
            f"probs {p.shape} (+{n_broader} broader) do not match embeddings {embeddings.shape}"
        )
    if not 1 <= top <= n_leaves:
        raise ValueError(f"top must be in [1, {n_leaves}], got {top}")
    ids = np.argsort(-p, kind="stable")[:top].astype(np.int64)
    mass = p[ids]
    if broader_probs is not None and broader_top > 0:
        bp = np.asarray(broader_probs, dtype=np.float64)
        chosen_broader = np.argsort(-bp, kind="stable")[:broader_top]
        chosen_broader = chosen_broader[bp[chosen_broader] > 0]
        ids = np.concatenate([ids, n_leaves + chosen_broader.astype(np.int64)])
        mass = np.concatenate([mass, broader_weight * bp[chosen_broader]])
    chosen = np.asarray(embeddings, dtype=np.float64)[ids]
    t = np.zeros((0, chosen.shape[1])) if texts is None else np.asarray(texts, dtype=np.float64)
    t_mass = np.zeros(len(t)) if text_mass is None else np.asarray(text_mass, dtype=np.float64)
    if t.shape[0] != t_mass.shape[0]:
        raise ValueError(f"{t.shape[0]} text embeddings but {t_mass.shape[0]} masses")
    total = mass @ chosen + t_mass @ t
    norm = float(np.linalg.norm(total))
    if norm == 0.0 or not np.isfinite(norm):
        raise ValueError("the top concepts have no mass, or their embeddings cancel out")
    return SemanticVector(
        vector=(total / norm).astype(np.float32),
        concept_ids=ids,
        weights=mass / norm,
        text_weights=t_mass / norm,
    )


def decompose(
    query: np.ndarray,
    concept_ids: np.ndarray,
    weights: np.ndarray,
    embeddings: np.ndarray,
) -> list[tuple[int, float]]:
    """Per-concept contributions ``w_i (q · e_i)`` to ``q · vector``, largest first.

    They sum to the score (up to the float32 rounding of the stored vector).
    """
    q = np.asarray(query, dtype=np.float64)
    ids = np.asarray(concept_ids, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    if ids.shape != w.shape:
        raise ValueError(f"{ids.shape[0]} concept ids but {w.shape[0]} weights")
    # rows first, then float64: converting the whole bank cost 0.27 ms a result (1465 x 384)
    contributions = w * (np.asarray(embeddings)[ids].astype(np.float64) @ q)
    pairs = [(int(i), float(c)) for i, c in zip(ids, contributions, strict=True)]
    return sorted(pairs, key=lambda pair: pair[1], reverse=True)


def text_contributions(
    query: np.ndarray, texts: np.ndarray, text_weights: np.ndarray
) -> list[float]:
    """Per-text-term contributions ``w_j (q · t_j)``, in the order of the terms. With
    :func:`decompose`'s concept contributions they sum to ``q · vector``."""
    t = np.asarray(texts, dtype=np.float64).reshape(len(text_weights), -1)
    return [float(c) for c in np.asarray(text_weights, dtype=np.float64) * (t @ query)]
