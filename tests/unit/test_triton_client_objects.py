"""``InferenceClient.detect_objects`` without a server: the request it sends, the padded answer
read back as ``ObjectDetection`` with COCO names, and the client's two kinds of failure."""

from __future__ import annotations

import socket

import numpy as np
import pytest
from glassbox.clients.triton import (
    OBJECT_MODEL,
    InferenceClient,
    InferenceError,
    InferenceUnavailable,
)
from glassbox.evidence_types import ObjectDetection


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeResult:
    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays

    def as_numpy(self, name: str):
        return self.arrays.get(name)


def padded(found: list[tuple[int, tuple, float]], count: int | None = None) -> dict:
    ids, boxes, scores = np.zeros((1, 100), np.int32), np.zeros((1, 100, 4)), np.zeros((1, 100))
    for k, (class_id, box, score) in enumerate(found):
        ids[0, k], boxes[0, k], scores[0, k] = class_id, box, score
    n = len(found) if count is None else count
    return {
        "COUNT": np.array([[n]], np.int32),
        "CLASS_IDS": ids,
        "BOXES": boxes.astype(np.float32),
        "SCORES": scores.astype(np.float32),
    }


class FakeTriton:
    def __init__(self, answer: dict):
        self.answer = answer
        self.requests: list[tuple[str, str, tuple[int, ...], list[str]]] = []

    def infer(self, model, inputs, outputs):
        names = [o.name() for o in outputs]
        self.requests.append((model, inputs[0].name(), tuple(inputs[0].shape()), names))
        return FakeResult(self.answer)


@pytest.fixture
def fake(monkeypatch):
    client = InferenceClient(f"127.0.0.1:{closed_port()}", timeout=1.0)
    server = FakeTriton(padded([]))
    monkeypatch.setattr(client, "_client", lambda: server)
    return client, server


def test_detections_come_back_with_their_coco_names_class_ids_and_boxes(fake):
    client, server = fake
    server.answer = padded([(2, (0.1, 0.2, 0.7, 0.7), 0.98), (18, (0.2, 0.4, 0.4, 0.9), 0.88)])
    found = client.detect_objects(np.zeros((576, 768, 3), np.uint8))
    assert server.requests == [
        (OBJECT_MODEL, "IMAGE", (1, 576, 768, 3), ["COUNT", "CLASS_IDS", "BOXES", "SCORES"])
    ]
    assert [type(d) for d in found] == [ObjectDetection, ObjectDetection]
    assert [(d.label, d.class_id) for d in found] == [("bicycle", 2), ("dog", 18)]
    assert found[0].box == pytest.approx((0.1, 0.2, 0.7, 0.7))
    assert found[1].score == pytest.approx(0.88)
    assert isinstance(found[0].class_id, int) and isinstance(found[0].score, float)


def test_nothing_found_is_an_empty_list(fake):
    client, _server = fake
    assert client.detect_objects(np.full((20, 30, 3), 128, np.uint8)) == []


@pytest.mark.parametrize(
    "answer",
    [padded([(12, (0, 0, 1, 1), 0.9)]), padded([], count=101), padded([], count=-1)],
    ids=["unknown class id", "count above the slots", "negative count"],
)
def test_a_nonsensical_answer_is_a_request_error(fake, answer):
    client, server = fake
    server.answer = answer
    with pytest.raises(InferenceError):
        client.detect_objects(np.zeros((8, 8, 3), np.uint8))


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((10, 10), np.uint8),
        np.zeros((10, 10, 4), np.uint8),
        np.zeros((10, 10, 3), np.float32),
        np.zeros((0, 10, 3), np.uint8),
        None,
    ],
)
def test_a_malformed_image_is_a_request_error_without_a_round_trip(fake, bad):
    client, server = fake
    with pytest.raises(InferenceError):
        client.detect_objects(bad)
    assert server.requests == []


def test_an_unreachable_server_is_retryable():
    client = InferenceClient(f"127.0.0.1:{closed_port()}", timeout=1.0)
    with pytest.raises(InferenceUnavailable):
        client.detect_objects(np.zeros((20, 20, 3), np.uint8))


def stacked(*answers: dict) -> dict:
    """Several images' padded answers as one response."""
    return {name: np.concatenate([a[name] for a in answers]) for name in answers[0]}


def test_several_images_of_one_size_go_in_one_request_with_one_answer_each(fake):
    client, server = fake
    server.answer = stacked(
        padded([(18, (0.2, 0.4, 0.4, 0.9), 0.88)]), padded([]), padded([(2, (0, 0, 1, 1), 0.5)])
    )
    found = client.detect_objects_many([np.zeros((40, 60, 3), np.uint8)] * 3)
    assert [req[2] for req in server.requests] == [(3, 40, 60, 3)]
    assert [[d.label for d in image] for image in found] == [["dog"], [], ["bicycle"]]
    assert client.detect_objects_many([]) == [] and len(server.requests) == 1


def test_more_images_than_the_model_batches_are_split(fake):
    client, server = fake
    answer = stacked(*[padded([(18, (0, 0, 1, 1), 0.1 * k)]) for k in range(10)])
    answered = 0

    def infer(model, inputs, outputs):  # the next images' answers, as many as were sent
        nonlocal answered
        n = inputs[0].shape()[0]
        server.requests.append((model, inputs[0].name(), tuple(inputs[0].shape()), []))
        part = {name: a[answered : answered + n] for name, a in answer.items()}
        answered += n
        return FakeResult(part)

    server.infer = infer
    found = client.detect_objects_many([np.zeros((8, 8, 3), np.uint8)] * 10)
    assert [req[2][0] for req in server.requests] == [8, 2]
    assert [image[0].score for image in found] == pytest.approx([0.1 * k for k in range(10)])


def test_images_of_different_sizes_are_refused_without_a_round_trip(fake):
    client, server = fake
    with pytest.raises(InferenceError, match="share a size"):
        client.detect_objects_many([np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8)])
    assert server.requests == []
