"""The adapters every ``model.py`` subclasses, against the stand-in ``pb_utils`` (no server,
no model): config parsing, input checks, one response per request, refusals, dtypes, padding."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
from glassbox.serving.adapter import (
    BoxesAdapter,
    ImageAdapter,
    ModelConfig,
    TextAdapter,
    padded_boxes,
)

from tests.support.triton_stub import fake_pb_utils, image_request, text_request

PB = fake_pb_utils()


def _args(inputs, outputs, parameters=None) -> dict[str, str]:
    def tensors(spec):
        return [{"name": n, "data_type": t, "dims": d} for n, t, d in spec]

    config = {"input": tensors(inputs), "output": tensors(outputs)}
    if parameters:
        config["parameters"] = {k: {"string_value": v} for k, v in parameters.items()}
    return {"model_config": json.dumps(config), "model_repository": "/m/x", "model_version": "1"}


IMAGE_FIXED = [("IMAGE", "TYPE_UINT8", [4, 6, 3])]
IMAGE_ANY = [("IMAGE", "TYPE_UINT8", [-1, -1, 3])]
MEANS = [("MEAN", "TYPE_FP32", [1]), ("SIZE", "TYPE_INT32", [1])]


class Means(ImageAdapter):
    name = "means"
    pb_utils = PB
    outputs = ("MEAN", "SIZE")

    def load(self, config):
        self.loaded_from = config.version_dir
        self.passes = 0

    def run(self, batches):
        self.passes += 1
        images = np.concatenate(batches)
        if (images == 13).all():
            raise RuntimeError("unlucky")
        mean = images.reshape(len(images), -1).mean(axis=1, keepdims=True)  # float64
        return mean, np.full((len(images), 1), images.shape[1])  # int64


def _means(inputs=IMAGE_FIXED) -> Means:
    adapter = Means()
    adapter.initialize(_args(inputs, MEANS))
    return adapter


def test_model_config_reads_dims_dtypes_parameters_and_the_version_folder():
    config = ModelConfig(PB, _args(IMAGE_FIXED, MEANS, {"threshold": "0.3"}))
    assert config.input_dims("IMAGE") == [4, 6, 3]
    assert config.output_dims("MEAN") == [1]
    assert config.output_dtype("SIZE") is np.int32
    assert config.parameter("threshold", "0.2") == "0.3"
    assert config.parameter("num_beams", "1") == "1"
    assert str(config.version_dir) == "/m/x/1"
    assert _means().loaded_from == config.version_dir


def test_one_pass_answers_each_request_in_order_with_the_configured_dtypes():
    adapter = _means()
    ones, twos = np.ones((2, 4, 6, 3), np.uint8), np.full((1, 4, 6, 3), 2, np.uint8)
    first, second = adapter.execute([image_request(ones), image_request(twos)])
    assert adapter.passes == 1
    assert first.error is None and second.error is None
    assert first.outputs["MEAN"].dtype == np.float32 and first.outputs["SIZE"].dtype == np.int32
    assert first.outputs["MEAN"][:, 0].tolist() == [1.0, 1.0]
    assert second.outputs["MEAN"][:, 0].tolist() == [2.0]


def test_a_fixed_image_size_refuses_other_sizes_alone():
    adapter = _means()
    good = np.ones((1, 4, 6, 3), np.uint8)
    responses = adapter.execute(
        [image_request(np.ones((1, 5, 6, 3), np.uint8)), {}, image_request(good)]
    )
    assert "IMAGE must be uint8 [N, (4, 6, 3)]" in responses[0].error.message()
    assert responses[1].error.message() == "input IMAGE is missing"
    assert responses[2].error is None and responses[2].outputs["SIZE"][0, 0] == 4


def test_a_variable_image_size_takes_any_non_empty_rgb_batch():
    adapter = _means(IMAGE_ANY)
    assert adapter.image_shape is None
    small, large = np.ones((1, 3, 5, 3), np.uint8), np.ones((1, 50, 9, 3), np.uint8)
    for image, height in ((small, 3), (large, 50)):
        [response] = adapter.execute([image_request(image)])
        assert response.outputs["SIZE"][0, 0] == height
    responses = adapter.execute(
        [
            image_request(small),
            image_request(small),
            image_request(np.ones((1, 0, 5, 3), np.uint8)),
            image_request(np.ones((1, 3, 5, 4), np.uint8)),
        ]
    )
    assert all(r.error is None for r in responses[:2])
    assert "empty" in responses[2].error.message()
    assert "[N, H, W, 3]" in responses[3].error.message()


def test_a_failing_pass_is_reported_to_every_request_that_took_part():
    adapter = _means()
    unlucky = np.full((1, 4, 6, 3), 13, np.uint8)
    responses = adapter.execute([image_request(unlucky), {}])
    assert responses[0].error.message() == "means failed: unlucky"
    assert responses[1].error.message() == "input IMAGE is missing"


class Lengths(TextAdapter):
    name = "lengths"
    pb_utils = PB

    def load(self, config):
        pass

    def run(self, batches):
        return np.array([[len(t), 0.0] for texts in batches for t in texts])  # float64


def test_text_requests_are_decoded_and_answered_as_float_embeddings():
    adapter = Lengths()
    adapter.initialize(
        _args([("TEXT", "TYPE_STRING", [1])], [("EMBEDDING", "TYPE_FP32", [2])])
    )
    assert adapter.dim == 2
    ok, bad = adapter.execute([text_request(b"dog", "caf\u00e9".encode()), text_request(b"\xff")])
    assert ok.outputs["EMBEDDING"].dtype == np.float32
    assert ok.outputs["EMBEDDING"].flags["C_CONTIGUOUS"]
    assert ok.outputs["EMBEDDING"][:, 0].tolist() == [3.0, 4.0]
    assert "UTF-8" in bad.error.message()


@dataclass(frozen=True)
class Found:
    word: str
    box: tuple[float, float, float, float]
    score: float


def test_padded_boxes_keep_the_first_items_as_fractions_and_pad_the_rest():
    images = np.zeros((2, 10, 20, 3), np.uint8)
    found = [[Found("a", (0, 0, 10, 5), 0.9), Found("b", (10, 5, 30, 10), 0.8)], []]
    count, labels, boxes, scores = padded_boxes(images, found, 1, "word")
    assert count.dtype == np.int32 and count[:, 0].tolist() == [1, 0]
    assert labels.tolist() == [[b"a"], [b""]]
    assert boxes[0, 0].tolist() == [0.0, 0.0, 0.5, 0.5] and not boxes[1].any()
    assert scores.dtype == np.float32 and scores[0, 0] == pytest.approx(0.9)
    _, _, wide, _ = padded_boxes(images, found, 3, "word")
    assert wide[0, 1].tolist() == [0.5, 0.5, 1.0, 1.0]  # clipped to the image
    assert not wide[0, 2].any()


@dataclass(frozen=True)
class Object:
    class_id: int
    box: tuple[float, float, float, float]
    score: float


def test_padded_boxes_take_integer_labels_padded_with_zero():
    images = np.zeros((2, 10, 20, 3), np.uint8)
    found = [[Object(18, (0, 0, 10, 5), 0.9), Object(2, (10, 5, 20, 10), 0.8)], []]
    count, ids, boxes, _ = padded_boxes(images, found, 3, "class_id", text=False)
    assert ids.dtype == np.int32 and ids.tolist() == [[18, 2, 0], [0, 0, 0]]
    assert count[:, 0].tolist() == [2, 0] and boxes[0, 1].tolist() == [0.5, 0.5, 1.0, 1.0]


class Objects(BoxesAdapter):
    outputs, label = ("COUNT", "CLASS_IDS", "BOXES", "SCORES"), "class_id"
    name, pb_utils = "objects", PB

    def run(self, batches):
        return [[Object(7, (0, 0, 4, 4), 0.5)] for images in batches for _ in images]

    def load(self, config):
        pass


def test_an_integer_label_tensor_carries_the_items_ids():
    adapter = Objects()
    outputs = [
        ("COUNT", "TYPE_INT32", [1]),
        ("CLASS_IDS", "TYPE_INT32", [2]),
        ("BOXES", "TYPE_FP32", [2, 4]),
        ("SCORES", "TYPE_FP32", [2]),
    ]
    adapter.initialize(_args(IMAGE_ANY, outputs))
    assert adapter.limit == 2 and not adapter.text_labels
    [response] = adapter.execute([image_request(np.ones((1, 8, 8, 3), np.uint8))])
    assert response.outputs["CLASS_IDS"].dtype == np.int32
    assert response.outputs["CLASS_IDS"].tolist() == [[7, 0]]
    assert response.outputs["BOXES"][0, 0].tolist() == [0.0, 0.0, 0.5, 0.5]


class Words(BoxesAdapter):
    """Five times the same word on each image."""

    outputs, label = ("COUNT", "WORDS", "BOXES", "SCORES"), "word"
    name, pb_utils = "words", PB

    def run(self, batches):
        return [[Found("hi", (0, 0, 1, 1), 0.5)] * 5 for images in batches for _ in images]

    def load(self, config):
        pass


def test_the_boxes_limit_is_the_label_tensors_configured_size():
    adapter = Words()
    outputs = [
        ("COUNT", "TYPE_INT32", [1]),
        ("WORDS", "TYPE_STRING", [3]),
        ("BOXES", "TYPE_FP32", [3, 4]),
        ("SCORES", "TYPE_FP32", [3]),
    ]
    adapter.initialize(_args(IMAGE_ANY, outputs))
    assert adapter.limit == 3
    [response] = adapter.execute([image_request(np.ones((2, 8, 8, 3), np.uint8))])
    assert response.outputs["COUNT"][:, 0].tolist() == [3, 3]
    assert response.outputs["WORDS"].shape == (2, 3)
    assert response.outputs["BOXES"].shape == (2, 3, 4)
