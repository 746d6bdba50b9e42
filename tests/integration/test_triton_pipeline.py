"""InferenceClient and the analysis pipeline against the real Triton models."""

from __future__ import annotations

import numpy as np
import pytest
from glassbox.analysis.pipeline import analyze
from glassbox.clients.triton import InferenceClient, InferenceError
from glassbox.config import Settings
from glassbox.media.imaging import decode_rgb, model_input
from glassbox.retrieval.conse import decompose, text_contributions

pytestmark = pytest.mark.integration

SETTINGS = Settings()




def test_models_report_ready(inference: InferenceClient) -> None:
    assert inference.ready()
    assert inference.model_ready("image_concepts") and inference.model_ready("text_embedding")
    assert not inference.model_ready("no_such_model")


def test_image_outputs_honour_the_cam_identity(inference: InferenceClient, samples) -> None:
    batch = np.stack(
        [model_input(decode_rgb((samples / f).read_bytes()), 224) for f in ("dog.jpg", "eagle.jpg")]
    )
    out = inference.analyze_images(batch)
    assert out.logits.shape == (2, 1000) and out.pooled.shape == (2, 1280)
    assert out.cam_indices.shape == (2, 16) and out.cams.shape == (2, 16, 7, 7)
    picked = np.take_along_axis(out.logits, out.cam_indices.astype(np.int64), axis=1)
    np.testing.assert_allclose(out.cams.mean(axis=(2, 3)) + out.cam_bias, picked, atol=1e-4)


def test_more_images_than_the_max_batch_are_split(inference: InferenceClient) -> None:
    out = inference.analyze_images(np.zeros((17, 224, 224, 3), dtype=np.uint8))
    assert out.logits.shape == (17, 1000)


def test_text_embeddings_are_unit_rows(inference: InferenceClient) -> None:
    e = inference.embed_texts(["dog", "a red car", "ünïcödé"])
    assert e.shape == (3, 384) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)


def test_a_malformed_image_batch_is_a_request_error(inference: InferenceClient) -> None:
    with pytest.raises(InferenceError):
        inference.analyze_images(np.zeros((1, 100, 100, 3), dtype=np.uint8))


def test_dog_photo_is_tagged_and_found_by_the_query_dog(inference, bank, samples) -> None:
    result = analyze((samples / "dog.jpg").read_bytes(), inference, bank, SETTINGS)
    assert result.tags and all(t.box is not None for t in result.tags)
    classified = [t for t in result.tags if t.source != "detector"]
    assert classified[0].justification.startswith(f"Tagged {classified[0].name}")
    query = inference.embed_texts(["dog"])[0]
    parts = decompose(query, result.semantic.concept_ids, result.semantic.weights, bank.embeddings)
    texts = np.array([t["embedding"] for t in result.text_terms]).reshape(-1, query.shape[0])
    text_parts = text_contributions(query, texts, result.semantic.text_weights)
    kinds = [t["kind"] for t in result.text_terms]  # no text in the photo: objects, caption
    assert kinds[-1] == "caption" and set(kinds[:-1]) == {"object"}, kinds
    score = float(query @ result.semantic.vector)
    assert sum(v for _, v in parts) + sum(text_parts) == pytest.approx(score, abs=1e-5)
    assert score > 0.3
