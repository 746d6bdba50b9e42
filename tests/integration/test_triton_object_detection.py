"""InferenceClient.detect_objects against the real ``object_detection`` (SSD-MobileNetV2 COCO
through OpenCV's DNN module) in Triton, on darknet's sample photos: what is found and where."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from glassbox.clients.triton import InferenceClient, InferenceError, InferenceUnavailable
from glassbox.detection.coco_labels import COCO_LABELS
from glassbox.evidence_types import ObjectDetection
from glassbox.tools.smoke.images import load_rgb

pytestmark = pytest.mark.integration

CONFIDENT = 0.5


def confident(found: list[ObjectDetection], label: str) -> list[ObjectDetection]:
    return [d for d in found if d.label == label and d.score >= CONFIDENT]


def centre(d: ObjectDetection) -> tuple[float, float]:
    x0, y0, x1, y1 = d.box
    return (x0 + x1) / 2, (y0 + y1) / 2


def assert_well_formed(found: list[ObjectDetection]) -> None:
    assert all(isinstance(d, ObjectDetection) for d in found)
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)
    for d in found:
        assert COCO_LABELS[d.class_id] == d.label
        assert 0.3 <= d.score <= 1
        assert 0 <= d.box[0] < d.box[2] <= 1 and 0 <= d.box[1] < d.box[3] <= 1


def test_the_model_is_ready(inference: InferenceClient) -> None:
    assert inference.model_ready("object_detection")


def test_the_dog_photo_has_a_bicycle_a_dog_and_a_car(inference: InferenceClient, samples) -> None:
    found = inference.detect_objects(load_rgb(samples / "dog.jpg"))
    assert_well_formed(found)
    [bicycle], [dog], [car] = (confident(found, label) for label in ("bicycle", "dog", "car"))
    assert bicycle.score >= 0.9 and dog.score >= 0.8 and car.score >= 0.6
    bx, by = centre(bicycle)  # the middle of the picture
    assert 0.3 < bx < 0.6 and 0.3 < by < 0.65
    dx, dy = centre(dog)  # lower left
    assert dx < 0.4 and dy > 0.55
    cx, cy = centre(car)  # top right
    assert cx > 0.65 and cy < 0.3
    for truck in confident(found, "truck"):  # the same vehicle may also pass for a truck
        np.testing.assert_allclose(truck.box, car.box, atol=0.05)


def test_the_kites_are_in_the_sky_and_the_people_on_the_beach(
    inference: InferenceClient, samples
) -> None:
    found = inference.detect_objects(load_rgb(samples / "kite.jpg"))
    assert_well_formed(found)
    kites, people = confident(found, "kite"), confident(found, "person")
    assert len(kites) >= 3 and len(people) >= 3, found
    assert all(centre(k)[1] < 0.45 for k in kites), kites
    assert all(centre(p)[1] > 0.5 for p in people), people


def test_the_giraffe_photo_has_a_zebra_and_a_giraffe(inference: InferenceClient, samples) -> None:
    found = inference.detect_objects(load_rgb(samples / "giraffe.jpg"))
    assert_well_formed(found)
    zebra, giraffe = confident(found, "zebra")[0], confident(found, "giraffe")[0]
    assert zebra.score >= 0.9 and giraffe.score >= 0.9
    assert giraffe.box[3] - giraffe.box[1] > 0.7  # the giraffe stands the whole picture high
    assert centre(zebra)[0] > 0.5 and zebra.box[1] > 0.3  # the zebra grazes at its feet, right


def test_a_blank_grey_image_has_nothing_confident(inference: InferenceClient) -> None:
    found = inference.detect_objects(np.full((480, 640, 3), 128, np.uint8))
    assert not [d for d in found if d.score >= CONFIDENT], found


def test_concurrent_requests_of_different_sizes_get_their_own_answers(
    inference: InferenceClient, samples
) -> None:
    dog, giraffe = load_rgb(samples / "dog.jpg"), load_rgb(samples / "giraffe.jpg")
    images = [dog, giraffe, dog, giraffe]
    with ThreadPoolExecutor(max_workers=len(images)) as pool:
        results = [
            f.result(timeout=120)
            for f in [pool.submit(inference.detect_objects, i) for i in images]
        ]
    assert results[0] == results[2] and results[1] == results[3]
    assert {d.label for d in results[0] if d.score >= CONFIDENT} >= {"bicycle", "dog", "car"}
    assert {d.label for d in results[1] if d.score >= CONFIDENT} >= {"zebra", "giraffe"}


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((10, 10), dtype=np.uint8),
        np.zeros((10, 10, 4), dtype=np.uint8),
        np.zeros((10, 10, 3), dtype=np.float32),
        np.zeros((0, 10, 3), dtype=np.uint8),
    ],
)
def test_a_malformed_image_is_a_request_error(inference: InferenceClient, bad) -> None:
    with pytest.raises(InferenceError):
        inference.detect_objects(bad)


def test_an_unreachable_server_is_retryable() -> None:
    inference = InferenceClient("127.0.0.1:9", timeout=1.0)  # discard port: nothing listens
    with pytest.raises(InferenceUnavailable):
        inference.detect_objects(np.zeros((20, 20, 3), dtype=np.uint8))
