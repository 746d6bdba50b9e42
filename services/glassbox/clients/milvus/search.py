"""Search hits, and the pure helpers of ``MediaIndex``'s search paths.

An approximate index (HNSW) loses recall when a filter keeps only a few rows, because the graph
walk meets too few of them (measured: recall@10 0.84 for a user owning 0.5% of 100k rows at
ef 64). The search breadth ``hnsw_ef`` is the fix: its default was chosen by
``bench/hnsw_sweep.py`` so that such a filter keeps recall@10 >= 0.95 (docs/search.md).
``exact_below`` (off by default) adds a second fix: an HNSW search first asks for the ids its
filter keeps, at most ``exact_below`` + 1 of them, and scores them exactly when there are no
more than ``exact_below``. It makes recall 1, but Milvus Lite answers that ids query at about
0.25 ms per returned row (0.55-0.63 s at 50k-100k rows, ``bench/milvus_filters.py``), on every
search, several times the search itself; so it is there for deployments that need exactness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_HNSW_EF = 512  # bench/hnsw_sweep.py and tests/integration/test_search_scale.py
DEFAULT_EXACT_BELOW = 0  # off: see the module docstring
EXACT_CHUNK = 500  # vectors read back per call when scoring exactly


@dataclass(frozen=True)
class Hit:
    id: int
    score: float  # inner product = cosine for the vector channels; BM25 for the text ones


def vector_search_params(index_type: str, hnsw_ef: int, limit: int, offset: int) -> dict:
    """``search_params`` of a vector search: inner product, and on HNSW a breadth of at least
    ``hnsw_ef`` and never less than the rows asked for."""
    params: dict[str, Any] = {"metric_type": "IP"}
    if index_type == "HNSW":
        params["params"] = {"ef": max(hnsw_ef, limit + offset)}
    return params


def vector_hits(results: Sequence[Sequence[dict]]) -> list[Hit]:
    """The hits of a one-query vector search (the distance is the inner product)."""
    return [Hit(id=int(h["id"]), score=float(h["distance"])) for h in results[0]]


def bm25_hits(results: Sequence[Sequence[dict]]) -> list[Hit]:
    """The hits of a one-query BM25 search, scores positive and larger for better matches."""
    # Milvus Lite reports BM25 as a negative distance; standalone as a positive score.
    return [Hit(id=int(h["id"]), score=abs(float(h["distance"]))) for h in results[0]]


def rank_exactly(
    found: dict[int, np.ndarray], query: Sequence[float], limit: int, offset: int
) -> list[Hit]:
    """The vectors ``found`` (by id) scored exactly against ``query``: by descending inner
    product, ties by ascending id, from ``offset``, at most ``limit``."""
    if not found:
        return []
    keys = np.fromiter(found, dtype=np.int64, count=len(found))
    scores = np.stack([found[int(k)] for k in keys]) @ np.asarray(query, dtype=np.float32)
    order = np.lexsort((keys, -scores))[offset : offset + limit]
    return [Hit(id=int(keys[i]), score=float(scores[i])) for i in order]
