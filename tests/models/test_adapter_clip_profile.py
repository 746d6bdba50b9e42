"""``model_repository_clip``'s adapters (``image_concepts``, ``text_embedding``, ``caption``)
against the stand-in ``pb_utils``, on the tiny random repository: the configs' tensors, one
response per request of a batch, a bad request failing alone. Mechanics only (no real
weights offline)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.triton_stub import (
    Tensor,
    image_request,
    load_adapter,
    read_config,
    text_request,
)

pytest.importorskip("transformers")


def _images(n: int, side: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, side, side, 3), dtype=np.uint8)


def test_image_concepts_answers_each_request_and_fails_a_bad_one_alone(pb_utils, tiny_repo):
    from glassbox.nn.clip.encoder import load_clip_concepts

    adapter = load_adapter(tiny_repo / "image_concepts")
    images = _images(3, 224)
    responses = adapter.execute(
        [
            image_request(images[:2]),
            image_request(_images(1, 100)),  # not the configured size
            {},  # IMAGE missing
            image_request(images[2:]),
        ]
    )
    assert len(responses) == 4
    assert "IMAGE" in responses[1].error.message() and responses[2].error is not None
    first, last = responses[0], responses[3]
    assert first.error is None and last.error is None
    net, _ = load_clip_concepts(tiny_repo / "image_concepts" / "1")
    local = net.run(images)
    np.testing.assert_allclose(first.outputs["CONCEPT_LOGITS"], local.logits[:2], atol=1e-4)
    np.testing.assert_allclose(last.outputs["CAMS"], local.cams[2:], atol=1e-4)
    assert first.outputs["POOLED_FEATURES"].shape == (2, 512)
    assert first.outputs["CAM_INDICES"].dtype == np.int32
    config = read_config(tiny_repo / "image_concepts")
    assert list(first.outputs) == [t["name"] for t in config["output"]]


def test_text_embedding_answers_each_request_and_fails_bad_utf8_alone(pb_utils, tiny_repo):
    from glassbox.nn.clip.encoder import load_clip_text

    adapter = load_adapter(tiny_repo / "text_embedding")
    responses = adapter.execute(
        [text_request(b"a dog", b"two cats"), text_request(b"\xff broken"), text_request(b"a car")]
    )
    assert "UTF-8" in responses[1].error.message()
    expected = load_clip_text(tiny_repo / "text_embedding" / "1").encode(
        ["a dog", "two cats", "a car"]
    )
    np.testing.assert_allclose(responses[0].outputs["EMBEDDING"], expected[:2], atol=1e-5)
    np.testing.assert_allclose(responses[2].outputs["EMBEDDING"], expected[2:], atol=1e-5)
    assert responses[2].outputs["EMBEDDING"].dtype == np.float32


def test_caption_answers_each_request_and_fails_a_bad_one_alone(pb_utils, tiny_repo):
    adapter = load_adapter(tiny_repo / "caption")
    assert adapter.captioner.threshold == pytest.approx(0.2)  # the config's parameter
    responses = adapter.execute(
        [
            image_request(_images(2, 384)),
            {"IMAGE": Tensor("IMAGE", _images(1, 384).astype(np.float32))},  # wrong type
            image_request(_images(1, 384, seed=1)),
        ]
    )
    assert "IMAGE" in responses[1].error.message()
    first, last = responses[0], responses[2]
    assert first.error is None and last.error is None
    out = first.outputs
    assert out["CAPTION"].shape == (2, 1) and out["PHRASES"].shape == (2, 8)
    assert out["PHRASE_MAPS"].shape == (2, 8, 7, 7) and out["PHRASE_SCORES"].shape == (2, 8)
    assert out["PHRASE_GROUNDED"].dtype == np.bool_
    assert last.outputs["CAPTION"][0, 0].decode().strip()


def test_a_config_that_does_not_fit_the_model_fails_at_initialize(pb_utils, tiny_repo, tmp_path):
    import shutil

    model = tmp_path / "image_concepts"
    shutil.copytree(tiny_repo / "image_concepts", model, symlinks=True)
    config = model / "config.pbtxt"
    config.write_text(config.read_text().replace("dims: [ 512 ]", "dims: [ 768 ]"))
    with pytest.raises(ValueError, match=r"POOLED_FEATURES: the model gives \[512\]"):
        load_adapter(model)
