from __future__ import annotations

import numpy as np
import pytest
from glassbox.retrieval.conse import decompose, semantic_vector, softmax, text_contributions


def unit_rows(n: int, d: int, seed: int = 0) -> np.ndarray:
    e = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


BANK = unit_rows(50, 16)
PROBS = softmax(np.random.default_rng(3).normal(scale=3.0, size=50))


def test_softmax_is_a_stable_distribution() -> None:
    p = softmax(np.array([1000.0, 1000.0, -1000.0]))
    np.testing.assert_allclose(p, [0.5, 0.5, 0.0])
    assert softmax(np.zeros((2, 4))).sum(axis=-1) == pytest.approx([1.0, 1.0])


def test_semantic_vector_takes_the_top_concepts_by_probability() -> None:
    sv = semantic_vector(PROBS, BANK, top=5)
    np.testing.assert_array_equal(sv.concept_ids, np.argsort(-PROBS)[:5])
    assert (np.diff(sv.weights) <= 0).all()


def test_semantic_vector_has_unit_length_and_equals_its_weighted_sum() -> None:
    sv = semantic_vector(PROBS, BANK, top=8)
    assert sv.vector.dtype == np.float32
    assert np.linalg.norm(sv.vector) == pytest.approx(1.0, abs=1e-6)
    weighted = (sv.weights[:, None] * BANK[sv.concept_ids].astype(np.float64)).sum(axis=0)
    np.testing.assert_allclose(sv.vector, weighted, atol=1e-6)


def test_weights_are_the_probabilities_rescaled() -> None:
    sv = semantic_vector(PROBS, BANK, top=6)
    ratio = sv.weights / PROBS[sv.concept_ids]
    np.testing.assert_allclose(ratio, ratio[0])


def test_top_one_gives_that_concepts_own_embedding() -> None:
    sv = semantic_vector(PROBS, BANK, top=1)
    np.testing.assert_allclose(sv.vector, BANK[np.argmax(PROBS)], atol=1e-6)


@pytest.mark.parametrize("top", [1, 5, 10, 50])
def test_contributions_sum_to_the_query_score(top: int) -> None:
    sv = semantic_vector(PROBS, BANK, top=top)
    query = unit_rows(1, 16, seed=9)[0]
    parts = decompose(query, sv.concept_ids, sv.weights, BANK)
    assert sum(value for _, value in parts) == pytest.approx(float(query @ sv.vector), abs=1e-5)
    assert [value for _, value in parts] == sorted((value for _, value in parts), reverse=True)
    assert {cid for cid, _ in parts} == set(sv.concept_ids.tolist())


def test_a_query_equal_to_one_concept_is_carried_by_that_concept() -> None:
    sv = semantic_vector(PROBS, BANK, top=5)
    best = int(sv.concept_ids[0])
    parts = decompose(BANK[best], sv.concept_ids, sv.weights, BANK)
    assert parts[0][0] == best


def test_inputs_are_not_mutated() -> None:
    probs, bank = PROBS.copy(), BANK.copy()
    sv = semantic_vector(probs, bank, top=4)
    decompose(bank[0], sv.concept_ids, sv.weights, bank)
    np.testing.assert_array_equal(probs, PROBS)
    np.testing.assert_array_equal(bank, BANK)


@pytest.mark.parametrize("top", [0, 51])
def test_top_outside_the_bank_is_rejected(top: int) -> None:
    with pytest.raises(ValueError):
        semantic_vector(PROBS, BANK, top=top)


def test_zero_probability_mass_is_rejected() -> None:
    with pytest.raises(ValueError):
        semantic_vector(np.zeros(50), BANK, top=3)


def test_read_text_joins_the_vector_as_its_own_terms_and_the_split_stays_exact() -> None:
    rng = np.random.default_rng(5)
    texts = rng.normal(size=(2, BANK.shape[1]))
    texts /= np.linalg.norm(texts, axis=1, keepdims=True)
    sv = semantic_vector(PROBS, BANK, top=5, texts=texts, text_mass=np.array([0.3, 0.1]))
    rebuilt = sv.weights @ BANK[sv.concept_ids] + sv.text_weights @ texts
    np.testing.assert_allclose(rebuilt, sv.vector, atol=1e-6)
    assert np.linalg.norm(sv.vector) == pytest.approx(1.0, abs=1e-6)
    query = rng.normal(size=BANK.shape[1])
    concept_part = sum(c for _, c in decompose(query, sv.concept_ids, sv.weights, BANK))
    text_part = sum(text_contributions(query, texts, sv.text_weights))
    assert concept_part + text_part == pytest.approx(float(query @ sv.vector), abs=1e-5)
    assert sv.text_weights[0] == pytest.approx(3 * sv.text_weights[1])
