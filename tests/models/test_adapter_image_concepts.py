"""``model_repository/image_concepts/1/model.py`` against the stand-in ``pb_utils``, with the
real config and weights: one response per request of a batch, a bad request failing alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.support.triton_stub import Tensor, load_adapter

MODEL = Path(__file__).resolve().parents[2] / "model_repository" / "image_concepts"


def test_image_adapter_answers_each_request_of_a_batch_and_fails_a_bad_one_alone(
    pb_utils, tmp_path, mobilenet_weights, concept_net, photo
):
    version = tmp_path / "image_concepts" / "1"
    version.mkdir(parents=True)
    (version / "mobilenet_v2.pth").symlink_to(mobilenet_weights)
    adapter = load_adapter(MODEL, version)

    dog, eagle, kite = photo("dog.jpg"), photo("eagle.jpg"), photo("kite.jpg")
    requests = [
        {"IMAGE": Tensor("IMAGE", np.stack([dog, eagle]))},
        {"IMAGE": Tensor("IMAGE", np.zeros((1, 100, 100, 3), np.uint8))},  # malformed
        {},  # IMAGE missing
        {"IMAGE": Tensor("IMAGE", kite[None])},
    ]
    responses = adapter.execute(requests)

    assert len(responses) == 4
    assert responses[1].error is not None and "IMAGE" in responses[1].error.message()
    assert responses[2].error is not None
    first, last = responses[0], responses[3]
    assert first.error is None and last.error is None
    local = concept_net.run(np.stack([dog, eagle, kite]))
    np.testing.assert_allclose(first.outputs["CONCEPT_LOGITS"], local.logits[:2], atol=1e-4)
    np.testing.assert_allclose(last.outputs["CONCEPT_LOGITS"], local.logits[2:], atol=1e-4)
    assert first.outputs["CAMS"].shape == (2, 16, 7, 7)
    assert last.outputs["CAM_INDICES"].dtype == np.int32
    assert set(last.outputs) == {
        "CONCEPT_LOGITS",
        "POOLED_FEATURES",
        "CAM_INDICES",
        "CAMS",
        "CAM_BIAS",
    }
