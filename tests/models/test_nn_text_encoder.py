from __future__ import annotations

import numpy as np


def test_embeddings_are_unit_length_float32_384d(text_encoder):
    emb = text_encoder.encode(["a dog on a beach", "tax law", ""])
    assert emb.shape == (3, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_a_paraphrase_is_closer_than_an_unrelated_sentence(text_encoder):
    a, para, unrelated = text_encoder.encode(
        ["A man is eating food.", "A man is eating a piece of bread.", "The stock market crashed."]
    )
    assert a @ para > 0.5
    assert a @ para > a @ unrelated + 0.3


def test_padding_in_a_batch_does_not_change_an_embedding(text_encoder):
    short = "golden retriever"
    alone = text_encoder.encode([short])[0]
    padded = text_encoder.encode([short, "a much longer sentence " * 10])[0]
    assert float(alone @ padded) > 0.9999


def test_long_texts_are_truncated_not_rejected(text_encoder):
    long = "word " * 2000
    emb = text_encoder.encode([long, long + "tail that falls past the limit"])
    assert emb.shape == (2, 384)
    assert float(emb[0] @ emb[1]) > 0.9999  # only the first 256 tokens count


def test_empty_input_gives_an_empty_matrix(text_encoder):
    assert text_encoder.encode([]).shape == (0, 384)
