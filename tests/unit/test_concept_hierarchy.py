"""Broader concepts from WordNet 3.0 (Debian wordnet-base) above the ImageNet-1k classes."""

from __future__ import annotations

import numpy as np
import pytest
from glassbox import concepts
from glassbox.retrieval.conse import decompose, semantic_vector


@pytest.fixture(scope="module")
def hierarchy():
    classes = concepts.read_imagenet_classes()
    nouns = concepts.read_wordnet_nouns()
    broader = concepts.broader_concepts([w for w, _ in classes], nouns)
    return classes, {name: mask for _, name, _, mask in broader}


def test_dog_covers_every_breed_and_no_cat(hierarchy):
    classes, broader = hierarchy
    names = [n for _, n in classes]
    dog = broader["dog"]
    assert dog[names.index("golden retriever")] and dog[names.index("Eskimo dog")]
    assert not dog[names.index("tabby")]
    assert 100 <= dog.sum() <= 130


def test_concepts_too_general_to_search_for_are_pruned_by_size(hierarchy):
    _, broader = hierarchy
    for general in ("entity", "physical entity", "object", "whole", "artifact"):
        assert general not in broader
    for useful in ("animal", "bird", "vehicle", "food", "musical instrument", "furniture"):
        assert useful in broader, useful
    sizes = np.array([mask.sum() for mask in broader.values()])
    assert sizes.min() >= concepts.BROADER_MIN_LEAVES
    assert sizes.max() <= concepts.BROADER_MAX_SHARE * 1000


def test_broader_probability_aggregates_its_leaves_and_is_monotone(hierarchy):
    _, broader = hierarchy
    members = np.stack([broader["animal"], broader["dog"]])
    assert np.all(members[0] >= members[1])  # every dog is an animal
    p = np.random.default_rng(1).dirichlet(np.ones(1000))
    animal, dog = members.astype(float) @ p
    assert animal >= dog > 0


def test_broader_concepts_in_the_mix_still_decompose_exactly():
    rng = np.random.default_rng(2)
    emb = rng.normal(size=(12, 6))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    leaf_p = rng.dirichlet(np.ones(10))
    broader_p = np.array([leaf_p[:3].sum(), leaf_p[5:].sum()])
    sem = semantic_vector(leaf_p, emb, 4, broader_p, broader_top=2, broader_weight=0.25)
    assert set(sem.concept_ids[4:]) == {10, 11}
    np.testing.assert_allclose(sem.weights @ emb[sem.concept_ids], sem.vector, atol=1e-6)
    q = rng.normal(size=6)
    parts = decompose(q, sem.concept_ids, sem.weights, emb)
    assert sum(v for _, v in parts) == pytest.approx(float(q @ sem.vector), abs=1e-5)


@pytest.fixture(scope="module")
def bank_without_embeddings():
    classes = concepts.read_imagenet_classes()
    broader = concepts.broader_concepts([w for w, _ in classes], concepts.read_wordnet_nouns())
    glosses = {w: "" for w, _ in classes}
    wnids = [w for w, _ in classes] + [w for w, *_ in broader]
    return concepts.build_concept_bank(
        classes,
        glosses,
        lambda texts: np.eye(len(texts), 4, dtype=np.float32) + 1.0,
        broader=broader,
        frequency=concepts.concept_frequencies(wnids),
        synonyms=concepts.concept_synonyms(wnids, concepts.read_wordnet_nouns()),
    )


@pytest.mark.parametrize(
    ("leaf", "path"),
    [
        ("golden retriever", ["animal", "dog"]),
        ("sports car", ["vehicle", "car"]),
        ("bald eagle", ["animal", "bird"]),
        ("pizza", ["matter", "food"]),
    ],
)
def test_a_leaf_tag_reads_as_a_path_of_the_names_people_use(bank_without_embeddings, leaf, path):
    bank = bank_without_embeddings
    assert [bank.names[i] for i in bank.path(bank.names.index(leaf))] == path


def test_every_leaf_reaches_the_root_and_its_path_goes_from_general_to_specific(
    bank_without_embeddings,
):
    nouns = concepts.read_wordnet_nouns()
    bank = bank_without_embeddings
    without_path = []
    for leaf in range(bank.n_leaves):
        seen, todo = set(), [bank.wnids[leaf][1:]]
        while todo:
            offset = todo.pop()
            seen.add(offset)
            todo.extend(nouns[offset].hypernyms)
        assert "00001740" in seen, bank.names[leaf]  # entity, the root of WordNet's nouns
        rows = [i - bank.n_leaves for i in bank.path(leaf)]
        if not rows:
            without_path.append(bank.names[leaf])
        sizes = [bank.members[r].sum() for r in rows]
        assert sizes == sorted(sizes, reverse=True)
        assert all(bank.members[r, leaf] for r in rows)
    # Only these two sit under nothing but single-leaf or over-broad (pruned) hypernyms.
    assert sorted(without_path) == ["pillow", "stage"]


def test_the_bank_holds_each_concepts_synonyms_and_nearest_parents(bank_without_embeddings):
    bank = bank_without_embeddings
    dog = bank.names.index("dog")
    assert bank.synonyms_of(dog) == ["dog", "domestic dog", "Canis familiaris"]
    golden = bank.names.index("golden retriever")
    assert [bank.names[p] for p in bank.parents(golden)] == ["retriever"]
    assert sorted(bank.names[p] for p in bank.parents(dog)) == ["canine", "domestic animal"]
    for concept in (golden, dog):
        for parent in bank.parents(concept):
            assert set(bank.leaves_of(concept)) < set(bank.leaves_of(parent))
