"""The query-embedding cache: warm queries skip Triton, a new model version or another client
never gets an old vector, and the cache is bounded (``search.embeddings``)."""

from __future__ import annotations

import numpy as np
import pytest
from search import embeddings


class Encoder:
    """Answers each text with a vector derived from it and the served version."""

    def __init__(self, version: str = "1") -> None:
        self.version = version
        self.calls: list[list[str]] = []

    def embed_texts(self, texts):
        self.calls.append(list(texts))
        return np.stack([self.vector(t) for t in texts])

    def vector(self, text: str) -> np.ndarray:
        rng = np.random.default_rng(abs(hash((text, self.version))) % 2**32)
        v = rng.standard_normal(8).astype(np.float32)
        return v / np.linalg.norm(v)

    def model_versions(self):
        return {"text_embedding": self.version}


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.delenv(embeddings.SIZE_SETTING, raising=False)
    monkeypatch.setattr(embeddings, "VERSION_TTL_S", 0.0)  # read the version on every call
    embeddings.clear()


def test_a_warm_query_is_answered_without_triton_and_identically():
    enc = Encoder()
    cold = embeddings.embed(enc, ["red car", "red", "car"])
    warm = embeddings.embed(enc, ["red car", "red", "car"])
    assert enc.calls == [["red car", "red", "car"]]  # one request, the query first
    np.testing.assert_array_equal(cold, warm)
    np.testing.assert_array_equal(cold[1], enc.vector("red"))


def test_only_the_missing_texts_are_encoded_in_order_and_repeats_once():
    enc = Encoder()
    embeddings.embed(enc, ["dog"])
    out = embeddings.embed(enc, ["black dog", "black", "dog", "black"])
    assert enc.calls[-1] == ["black dog", "black"]
    assert out.shape == (4, 8)
    np.testing.assert_array_equal(out[1], out[3])


def test_a_new_model_version_never_gets_an_old_vector():
    enc = Encoder("1")
    old = embeddings.embed(enc, ["dog"])
    enc.version = "2"
    new = embeddings.embed(enc, ["dog"])
    assert len(enc.calls) == 2
    np.testing.assert_array_equal(new[0], enc.vector("dog"))
    assert not np.array_equal(old, new)


def test_each_client_has_its_own_cache():
    a, b = Encoder(), Encoder()
    embeddings.embed(a, ["dog"])
    embeddings.embed(b, ["dog"])
    assert a.calls == [["dog"]] and b.calls == [["dog"]]


def test_the_cache_is_bounded_least_recently_used_first(monkeypatch):
    monkeypatch.setenv(embeddings.SIZE_SETTING, "2")
    enc = Encoder()
    embeddings.embed(enc, ["a1"])
    embeddings.embed(enc, ["b2"])
    embeddings.embed(enc, ["a1"])  # a1 is now the most recent
    embeddings.embed(enc, ["c3"])  # evicts b2
    assert len(embeddings.cache_for(enc)) == 2
    embeddings.embed(enc, ["a1"])
    embeddings.embed(enc, ["b2"])
    assert enc.calls == [["a1"], ["b2"], ["c3"], ["b2"]]


def test_size_zero_turns_the_cache_off(monkeypatch):
    monkeypatch.setenv(embeddings.SIZE_SETTING, "0")
    enc = Encoder()
    embeddings.embed(enc, ["dog"])
    embeddings.embed(enc, ["dog"])
    assert enc.calls == [["dog"], ["dog"]]
    assert embeddings.cache_for(enc) is None


def test_the_version_is_read_at_most_once_per_ttl(monkeypatch):
    monkeypatch.setattr(embeddings, "VERSION_TTL_S", 3600.0)
    enc = Encoder()
    reads: list[int] = []
    versions = enc.model_versions
    monkeypatch.setattr(enc, "model_versions", lambda: reads.append(1) or versions())
    for _ in range(5):
        embeddings.embed(enc, ["dog"])
    assert reads == [1]


def test_search_twice_encodes_once(api, fake_services):
    from django.urls import reverse

    for _ in range(2):
        assert api.get(reverse("api:search"), {"q": "golden dog"}).status_code == 200
    assert fake_services.encoder.calls == [["golden dog", "golden", "dog"]]
