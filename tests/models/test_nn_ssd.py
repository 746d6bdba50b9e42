"""``glassbox.nn.ssd``: the decoding of SSD's ``DetectionOutput`` rows (no model), and the
detector on darknet's photos (the wheel's graph through OpenCV's DNN module)."""

from __future__ import annotations

import numpy as np
import pytest
from glassbox.nn.ssd import ObjectDetector, decode
from glassbox.tools import prepare
from glassbox.tools.smoke.images import load_rgb

DARKNET_DATA = "/usr/share/darknet/data"


def _row(class_id, score, box, image=0.0):
    return [image, class_id, score, *box]


def test_decode_keeps_known_classes_above_the_floor_in_pixels_by_descending_score():
    rows = np.array(
        [
            _row(18, 0.5, (0.1, 0.2, 0.3, 0.6)),  # dog
            _row(2, 0.9, (-0.1, 0.0, 0.5, 1.2)),  # bicycle, box clipped to the image
            _row(1, 0.29, (0.0, 0.0, 1.0, 1.0)),  # person below the floor
            _row(12, 0.8, (0.0, 0.0, 1.0, 1.0)),  # an id COCO never annotated
            _row(3, 0.7, (0.5, 0.5, 0.5, 0.9)),  # an empty box
            _row(8, float("nan"), (0.0, 0.0, 1.0, 1.0)),
            _row(0, 0.95, (0.0, 0.0, 1.0, 1.0)),  # background
        ],
        np.float32,
    )
    found = decode(rows, width=200, height=100, min_score=0.3, limit=100)
    assert [(d.label, d.class_id) for d in found] == [("bicycle", 2), ("dog", 18)]
    assert found[0].box == pytest.approx((0.0, 0.0, 100.0, 100.0))
    assert found[1].box == pytest.approx((20.0, 20.0, 60.0, 60.0))
    assert found[0].score == pytest.approx(0.9)
    assert decode(rows, 200, 100, 0.3, 1) == found[:1]
    assert decode(np.zeros((0, 7), np.float32), 10, 10, 0.3, 100) == []


@pytest.fixture(scope="module")
def detector():
    import cv2

    threads = cv2.getNumThreads()
    yield ObjectDetector(prepare.detector_sources()[0].parent, threads=1)
    cv2.setNumThreads(threads)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("giraffe.jpg", {"zebra", "giraffe"}),
        ("person.jpg", {"person", "horse"}),
        ("eagle.jpg", {"bird"}),
        ("kite.jpg", {"kite", "person"}),
    ],
)
def test_the_sample_photos_objects_are_found(detector, name, expected):
    image = load_rgb(f"{DARKNET_DATA}/{name}")
    found = detector.detect(image)
    assert expected <= {d.label for d in found if d.score >= 0.5}, found
    height, width = image.shape[:2]
    for d in found:
        assert 0 <= d.box[0] < d.box[2] <= width and 0 <= d.box[1] < d.box[3] <= height


def test_a_malformed_image_is_refused_before_any_pass(detector):
    good = np.zeros((8, 8, 3), np.uint8)
    for bad in (np.zeros((8, 8), np.uint8), np.zeros((8, 8, 3), np.float32), np.zeros((0, 8, 3))):
        with pytest.raises(ValueError):
            detector.detect_many([good, bad])
