"""``model_repository/text_embedding/1/model.py`` against the stand-in ``pb_utils``, with the
real config and encoder: one response per request of a batch, bad UTF-8 failing alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.support.triton_stub import load_adapter, text_request

MODEL = Path(__file__).resolve().parents[2] / "model_repository" / "text_embedding"


def test_text_adapter_answers_each_request_of_a_batch_and_fails_bad_utf8_alone(
    pb_utils, tmp_path, minilm_dir, text_encoder
):
    version = tmp_path / "text_embedding" / "1"
    version.mkdir(parents=True)
    (version / "encoder").symlink_to(minilm_dir, target_is_directory=True)
    adapter = load_adapter(MODEL, version)

    responses = adapter.execute(
        [
            text_request(b"a dog on a beach", "caf\u00e9 au lait".encode()),
            text_request(b"\xff\xfe broken"),
            text_request(b"tax law"),
        ]
    )

    assert len(responses) == 3
    assert responses[1].error is not None and "UTF-8" in responses[1].error.message()
    expected = text_encoder.encode(["a dog on a beach", "caf\u00e9 au lait", "tax law"])
    np.testing.assert_allclose(responses[0].outputs["EMBEDDING"], expected[:2], atol=1e-5)
    np.testing.assert_allclose(responses[2].outputs["EMBEDDING"], expected[2:], atol=1e-5)
    assert responses[2].outputs["EMBEDDING"].dtype == np.float32
