"""ConSE: images in the text-embedding space (Norouzi et al. 2014, "Zero-Shot Learning by
Convex Combination of Semantic Embeddings").

An image's semantic vector is the probability-weighted combination of its top-T concepts'
text embeddings, scaled to unit length::

    v = sum_i p_i e_i / |sum_i p_i e_i|   =   sum_i w_i e_i,   w_i = p_i / |sum_j p_j e_j|

Because ``v`` is an explicit linear combination, a text query's score ``q · v`` splits
exactly into per-concept contributions ``w_i (q · e_i)``: that split is the explanation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SemanticVector:
    vector: np.ndarray  # float32 [d], unit length
    concept_ids: np.ndarray  # int64 [T], by descending probability
    weights: np.ndarray  # float64 [T], vector == sum(weights[i] * E[concept_ids[i]])


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis (float64)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def semantic_vector(probs: np.ndarray, embeddings: np.ndarray, top: int) -> SemanticVector:
    """The ConSE vector of the ``top`` most probable concepts."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 1 or p.shape[0] != embeddings.shape[0]:
        raise ValueError(f"probs {p.shape} do not match embeddings {embeddings.shape}")
    if not 1 <= top <= p.shape[0]:
        raise ValueError(f"top must be in [1, {p.shape[0]}], got {top}")
    ids = np.argsort(-p, kind="stable")[:top].astype(np.int64)
    chosen = np.asarray(embeddings, dtype=np.float64)[ids]
    norm = float(np.linalg.norm(p[ids] @ chosen))
    if norm == 0.0 or not np.isfinite(norm):
        raise ValueError("the top concepts have no mass, or their embeddings cancel out")
    weights = p[ids] / norm
    vector = (weights @ chosen).astype(np.float32)
    return SemanticVector(vector=vector, concept_ids=ids, weights=weights)


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
    contributions = w * (np.asarray(embeddings, dtype=np.float64)[ids] @ q)
    pairs = [(int(i), float(c)) for i, c in zip(ids, contributions, strict=True)]
    return sorted(pairs, key=lambda pair: pair[1], reverse=True)
