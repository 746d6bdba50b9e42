"""Query embeddings with a bounded, per-process cache.

Encoding a query and its content words through Triton's ``text_embedding`` took about a
fifth of a text search (33 ms of 185 at 10 000 items, docs/search.md), and the same words
come back often ("dog", "car"). So each text's vector is kept in an LRU cache of
``GLASSBOX_SEARCH_EMBEDDING_CACHE`` entries (0 turns it off), keyed by the exact text and
the ``text_embedding`` version Triton serves: a new model version never answers with an old
vector. The version is read again at most every ``VERSION_TTL_S`` seconds, so for that long
after a model swap a process may still use the old version's vectors (the same ones it used
before the swap), never a mix within one query.

The cache belongs to one inference client (tests replace the client with fakes that answer
differently; a vector from one must never answer for another). Misses are encoded in one
request, in the order asked, so a cold query costs what it cost before: one Triton call.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
from glassbox.config import load_web_settings

MODEL = "text_embedding"
# GLASSBOX_SEARCH_EMBEDDING_CACHE, WebSettings.search_embedding_cache: 384 floats each,
# about 6 MB per process when full of 4096
VERSION_TTL_S = 10.0
SIZE_SETTING = "GLASSBOX_SEARCH_EMBEDDING_CACHE"


class EmbeddingCache:
    """Text -> unit vector for one inference client, at most ``size`` entries (LRU)."""

    def __init__(self, client: Any, size: int) -> None:
        self._client = weakref.ref(client)
        self.size = size
        self._lock = threading.Lock()  # gunicorn gthread workers share the process
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._version = ""
        self._version_at = -float("inf")
        self.hits = 0
        self.misses = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 ``[len(texts), dim]``, one row per text, as ``embed_texts`` answers."""
        client = self._client()
        if client is None:  # pragma: no cover - the owner is alive while it is used
            raise RuntimeError("the inference client of this cache is gone")
        version = self._model_version(client)
        with self._lock:
            found = {t: self._vectors.get((version, t)) for t in texts}
            for t, v in found.items():
                if v is not None:
                    self._vectors.move_to_end((version, t))
        missing = [t for t, v in found.items() if v is None]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = np.asarray(client.embed_texts(missing), dtype=np.float32)
            with self._lock:
                for t, v in zip(missing, fresh, strict=True):
                    found[t] = v
                    self._vectors[(version, t)] = v
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        return np.stack([found[t] for t in texts]) if texts else np.zeros((0, 0), np.float32)

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()
            self._version_at = -float("inf")

    def __len__(self) -> int:
        return len(self._vectors)

    def _model_version(self, client: Any) -> str:
        """The served ``text_embedding`` version, read at most every ``VERSION_TTL_S``."""
        now = time.monotonic()
        if now - self._version_at >= VERSION_TTL_S:
            self._version = str(client.model_versions().get(MODEL, ""))
            self._version_at = now
        return self._version


_caches: dict[int, EmbeddingCache] = {}
_caches_lock = threading.Lock()


def cache_size() -> int:
    """``GLASSBOX_SEARCH_EMBEDDING_CACHE`` (entries per process; 0: no cache)."""
    size = load_web_settings().search_embedding_cache
    if size < 0:
        raise ValueError(f"{SIZE_SETTING} must be >= 0, got {size}")
    return size


def cache_for(client: Any) -> EmbeddingCache | None:
    """The cache of ``client`` (made on first use), or None when caching is off."""
    size = cache_size()
    if size == 0:
        return None
    key = id(client)
    with _caches_lock:
        cache = _caches.get(key)
        if cache is None or cache._client() is not client:  # an id reused after a collect
            cache = EmbeddingCache(client, size)
            _caches[key] = cache
            weakref.finalize(client, _caches.pop, key, None)
        return cache


def embed(client: Any, texts: Sequence[str]) -> np.ndarray:
    """``client.embed_texts(texts)``, answered from the cache where it can be."""
    cache = cache_for(client)
    if cache is None:
        return np.asarray(client.embed_texts(list(texts)), np.float32)
    return cache.embed(list(dict.fromkeys(texts)))[_positions(texts)]


def _positions(texts: Sequence[str]) -> list[int]:
    """Row of each text in the de-duplicated list ``dict.fromkeys(texts)``."""
    first: dict[str, int] = {}
    return [first.setdefault(t, len(first)) for t in texts]


def clear() -> None:
    """Forget every cached vector (the benchmark's cold queries; tests)."""
    with _caches_lock:
        caches = list(_caches.values())
    for cache in caches:
        cache.clear()
