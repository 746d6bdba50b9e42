"""glassbox.nn.nsfw: NudeNet's 320n.onnx from the nudenet wheel, offline, on CPU."""

from __future__ import annotations

import numpy as np
import pytest
from glassbox.evidence_types import Detection
from glassbox.tools.smoke.images import load_rgb

DARKNET_DATA = "/usr/share/darknet/data"
SAFE_PHOTOS = ["dog.jpg", "eagle.jpg", "person.jpg", "horses.jpg", "giraffe.jpg"]


@pytest.fixture(scope="module")
def detector():
    from glassbox.nn.nsfw import NsfwDetector

    return NsfwDetector(threads=1)


def test_loads_without_the_network(no_network):
    from glassbox.nn.nsfw import NsfwDetector

    assert NsfwDetector(threads=1).detect(load_rgb(f"{DARKNET_DATA}/dog.jpg")) is not None


def test_labels_come_from_the_model(detector):
    assert len(detector.labels) == 18
    assert "FEMALE_BREAST_EXPOSED" in detector.labels and "FACE_MALE" in detector.labels


@pytest.mark.parametrize("name", SAFE_PHOTOS)
def test_safe_photos_have_no_exposed_part_at_half_confidence(detector, name):
    image = load_rgb(f"{DARKNET_DATA}/{name}")
    found = detector.detect(image)
    assert all(isinstance(d, Detection) for d in found)
    assert not [d for d in found if d.exposed and d.score >= 0.5], found
    h, w = image.shape[:2]
    for d in found:
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert 0.2 <= d.score <= 1.0 and d.label in detector.labels
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)


def test_a_batch_gives_what_single_images_give(detector):
    images = [load_rgb(f"{DARKNET_DATA}/{n}") for n in ("person.jpg", "dog.jpg", "eagle.jpg")]
    together = detector.detect_many(images)
    alone = [detector.detect(image) for image in images]
    assert len(together) == 3
    for a, b in zip(together, alone, strict=True):
        assert [d.label for d in a] == [d.label for d in b]
        np.testing.assert_allclose([d.score for d in a], [d.score for d in b], atol=1e-4)
        np.testing.assert_allclose([d.box for d in a], [d.box for d in b], atol=0.5)


def test_matches_nudenet_up_to_the_channel_order(detector):
    """NudeDetector feeds BGR (see glassbox.nn.nsfw); given BGR, we agree with it."""
    import nudenet

    path = f"{DARKNET_DATA}/person.jpg"
    theirs = nudenet.NudeDetector().detect(path)
    ours = detector.detect(np.ascontiguousarray(load_rgb(path)[:, :, ::-1]))
    assert [d.label for d in ours] == [t["class"] for t in theirs]
    np.testing.assert_allclose([d.score for d in ours], [t["score"] for t in theirs], atol=1e-3)
    for d, t in zip(ours, theirs, strict=True):
        x, y, w, h = t["box"]
        np.testing.assert_allclose(d.box, (x, y, x + w, y + h), atol=2.0)


@pytest.mark.parametrize("shape", [(1, 1, 3), (10, 2000, 3), (64, 64, 3)])
def test_odd_shapes_are_handled(detector, shape):
    assert detector.detect(np.full(shape, 128, dtype=np.uint8)) == []


def test_rejects_a_wrong_array(detector):
    with pytest.raises(ValueError):
        detector.detect(np.zeros((10, 10, 4), dtype=np.uint8))
    with pytest.raises(ValueError):
        detector.detect(np.zeros((0, 10, 3), dtype=np.uint8))
