from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from glassbox import concepts
from glassbox.concepts import ConceptBank


@pytest.fixture(scope="module")
def classes():
    return concepts.read_imagenet_classes()


@pytest.fixture(scope="module")
def glosses(classes):
    return concepts.read_glosses(concepts.WORDNET_DATA_NOUN, [w for w, _ in classes])


def test_imagenet_classes_are_1000_in_torchvision_order(classes):
    assert len(classes) == 1000
    assert classes[0] == ("n01440764", "tench")
    assert classes[207] == ("n02099601", "golden retriever")
    assert classes[22][1] == "bald eagle"
    assert [w for w, _ in classes] == sorted(w for w, _ in classes)


def test_every_class_has_a_non_empty_first_clause_gloss(classes, glosses):
    assert set(glosses) == {w for w, _ in classes}
    assert all(g and ";" not in g and "|" not in g for g in glosses.values())
    assert glosses["n02099601"] == "an English breed having a long silky golden coat"


def test_concept_texts_are_name_colon_gloss(classes, glosses):
    texts = concepts.concept_texts(classes, glosses)
    assert len(texts) == 1000
    assert texts[207] == "golden retriever: an English breed having a long silky golden coat"


def test_built_bank_round_trips_through_npz(tmp_path, classes, glosses, text_encoder):
    bank = concepts.build_concept_bank(classes[200:210], glosses, text_encoder.encode, "t-1")
    path = tmp_path / "bank.npz"
    bank.save(path)
    loaded = ConceptBank.load(path)
    assert len(loaded) == 10 and loaded.version == "t-1"
    assert loaded.wnids == bank.wnids and loaded.glosses == bank.glosses
    assert loaded.name(7) == "golden retriever"
    assert loaded.embeddings.dtype == np.float32 and loaded.embeddings.shape == (10, 384)
    np.testing.assert_allclose(np.linalg.norm(loaded.embeddings, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(loaded.embeddings, bank.embeddings)
    with np.load(path, allow_pickle=False) as raw:  # loadable without pickle
        assert raw["wnids"].dtype == np.dtype("U9")
    query = text_encoder.encode(["a golden dog"])[0]
    assert int(np.argmax(loaded.embeddings @ query)) == 7


def test_bank_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        ConceptBank(("n1", "n2"), ("a",), ("g", "h"), np.zeros((2, 4), np.float32), "v")


def test_concepts_module_imports_without_torch():
    code = "import sys, glassbox.concepts; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
