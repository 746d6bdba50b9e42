"""The python backend's batching contract, without a server."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
from glassbox.serving.batching import answer, split


class Outputs(NamedTuple):
    a: np.ndarray
    b: np.ndarray


def parse(request):
    if request == "bad":
        raise ValueError("bad request")
    return list(request)


def respond(batch, share):
    return ("ok", batch, share)


def refuse(message):
    return ("error", message)


def test_one_pass_over_all_requests_and_one_response_each_in_order():
    passes = []

    def run(batches):
        passes.append(batches)
        return np.array([x * 10 for b in batches for x in b])

    out = answer([[1, 2], [3], [4, 5, 6]], parse, run, respond, refuse, "m")
    assert len(passes) == 1
    assert [r[0] for r in out] == ["ok"] * 3
    assert [list(r[2]) for r in out] == [[10, 20], [30], [40, 50, 60]]


def test_a_bad_request_fails_alone_and_the_rest_still_run():
    out = answer(
        [[1], "bad", [2]], parse, lambda b: [x for bb in b for x in bb], respond, refuse, "m"
    )
    assert out[1] == ("error", "bad request")
    assert out[0][2] == [1] and out[2][2] == [2]


def test_a_failed_pass_tells_every_request_that_took_part_and_keeps_the_refusals():
    def run(batches):
        raise RuntimeError("out of memory")

    out = answer([[1], "bad"], parse, run, respond, refuse, "image_concepts")
    assert out == [("error", "image_concepts failed: out of memory"), ("error", "bad request")]


def test_tuples_of_outputs_are_split_per_tensor_and_keep_their_type():
    outputs = Outputs(np.arange(5), np.arange(5) * 2)
    first, second = split(outputs, [2, 3])
    assert isinstance(first, Outputs) and list(first.b) == [0, 2]
    assert list(second.a) == [2, 3, 4]
    plain = split((np.arange(3), np.arange(3)), [1, 2])
    assert isinstance(plain[0], tuple) and list(plain[1][1]) == [1, 2]


def test_a_model_giving_the_wrong_number_of_outputs_is_a_failure_not_a_misalignment():
    with pytest.raises(ValueError, match="2 outputs for 3 inputs"):
        split(np.arange(2), [1, 2])
    out = answer([[1, 2], [3]], parse, lambda b: np.arange(2), respond, refuse, "m")
    assert all(r[0] == "error" for r in out)


class Tensor:
    def __init__(self, array):
        self.array = array

    def as_numpy(self):
        return self.array


def test_image_batches_are_checked_for_type_shape_and_emptiness():
    from glassbox.serving.batching import image_batch

    ok = np.zeros((2, 5, 7, 3), np.uint8)
    assert image_batch(Tensor(ok)) is ok
    assert image_batch(Tensor(ok), (5, 7, 3)) is ok
    for bad, shape, match in [
        (None, None, "missing"),
        (np.zeros((1, 5, 7, 3), np.float32), None, "uint8"),
        (np.zeros((1, 0, 7, 3), np.uint8), None, "empty"),
        (ok, (224, 224, 3), "224"),
    ]:
        with pytest.raises(ValueError, match=match):
            image_batch(None if bad is None else Tensor(bad), shape)


def test_texts_decode_as_utf8_and_invalid_bytes_refuse_the_request():
    from glassbox.serving.batching import utf8_texts

    assert utf8_texts(Tensor(np.array([[b"caf\xc3\xa9"], [b"dog"]], dtype=object))) == [
        "café",
        "dog",
    ]
    with pytest.raises(ValueError, match="UTF-8"):
        utf8_texts(Tensor(np.array([[b"\xff"]], dtype=object)))
