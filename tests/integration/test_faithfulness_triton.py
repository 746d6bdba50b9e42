"""Faithfulness of the evidence, re-scored through the real Triton model."""

from __future__ import annotations

from dataclasses import replace

import pytest
from glassbox.analysis.pipeline import analyze
from glassbox.clients.triton import InferenceClient
from glassbox.concepts import ConceptBank
from glassbox.config import Settings

pytestmark = pytest.mark.integration

SETTINGS = replace(Settings(), faithfulness="always", faithfulness_steps=10)


@pytest.fixture(scope="module")
def dog(triton_url: str, samples):
    client = InferenceClient(triton_url, timeout=60.0)
    bank = ConceptBank.load(SETTINGS.concept_bank_path)
    return analyze((samples / "dog.jpg").read_bytes(), client, bank, SETTINGS)


def classified(analysis):
    """The classifier's first tag (the detector's own tags are re-detected, not re-scored)."""
    return next(t for t in analysis.tags if t.source != "detector")


def test_masking_the_dogs_region_drops_the_dog_score(dog):
    top = classified(dog)
    assert top.name == "dog"
    f = top.faithfulness
    assert f["after"] < 0.5 * f["before"], f
    assert "Masking this region drops the score" in top.justification


def test_the_dog_map_beats_a_random_pixel_order_on_deletion_and_insertion(dog):
    f = classified(dog).faithfulness
    assert f["deletion_auc"] < f["random_deletion_auc"], f
    assert f["insertion_auc"] > f["random_insertion_auc"], f
