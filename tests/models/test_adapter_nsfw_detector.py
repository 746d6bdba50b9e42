"""``model_repository/nsfw_detector/1/model.py`` against the stand-in ``pb_utils``, with the
real config and the nudenet wheel's model: the contract's tensors, padding, one response per
request, a bad request failing alone, a failing pass reported to every request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from glassbox.evidence_types import to_fractions
from glassbox.tools.smoke.images import load_rgb

from tests.support.triton_stub import image_request, load_adapter

MODEL = Path(__file__).resolve().parents[2] / "model_repository" / "nsfw_detector"
DARKNET_DATA = "/usr/share/darknet/data"


def test_nsfw_adapter_answers_each_request_and_fails_a_bad_one_alone(pb_utils):
    from glassbox.nn.nsfw import NsfwDetector

    adapter = load_adapter(MODEL)
    person = load_rgb(f"{DARKNET_DATA}/person.jpg")
    dog = load_rgb(f"{DARKNET_DATA}/dog.jpg")
    responses = adapter.execute(
        [
            image_request(np.stack([person, person[:, ::-1].copy()])),
            image_request(np.zeros((1, 50, 50, 4), np.uint8)),  # four channels
            {},
            image_request(dog[None]),
        ]
    )

    assert len(responses) == 4
    assert responses[1].error is not None and "IMAGE" in responses[1].error.message()
    assert responses[2].error is not None
    first, last = responses[0], responses[3]
    assert first.error is None and last.error is None
    out = first.outputs
    assert set(out) == {"COUNT", "LABELS", "BOXES", "SCORES"}
    assert out["COUNT"].shape == (2, 1) and out["LABELS"].shape == (2, 32)
    assert out["BOXES"].shape == (2, 32, 4) and out["SCORES"].shape == (2, 32)

    detector = NsfwDetector(threads=1)
    for row, image in ((0, person), (1, person[:, ::-1].copy())):
        local = detector.detect(image)
        n = int(out["COUNT"][row, 0])
        assert n == len(local)
        assert [b.decode() for b in out["LABELS"][row, :n]] == [d.label for d in local]
        np.testing.assert_allclose(out["SCORES"][row, :n], [d.score for d in local], atol=1e-4)
        h, w = image.shape[:2]
        want = np.array([to_fractions(d.box, w, h) for d in local], np.float32).reshape(-1, 4)
        np.testing.assert_allclose(out["BOXES"][row, :n], want, atol=1e-3)
        assert set(out["LABELS"][row, n:]) == {b""}
    safe = last.outputs
    n = int(safe["COUNT"][0, 0])
    assert not [
        s
        for label, s in zip(safe["LABELS"][0, :n], safe["SCORES"][0, :n], strict=True)
        if label.decode().endswith("_EXPOSED") and s >= 0.5
    ]


def test_nsfw_adapter_reports_a_failing_pass_to_every_request(pb_utils, monkeypatch):
    adapter = load_adapter(MODEL)

    def broken(images):
        raise RuntimeError("onnx exploded")

    monkeypatch.setattr(adapter.detector, "detect_many", broken)
    responses = adapter.execute([image_request(np.zeros((1, 8, 8, 3), np.uint8)), {}])
    assert "nsfw_detector failed: onnx exploded" in responses[0].error.message()
    assert responses[1].error is not None


def test_nsfw_adapter_reads_its_thread_count_from_the_environment(pb_utils, monkeypatch):
    monkeypatch.setenv("GLASSBOX_TORCH_THREADS", "1")
    adapter = load_adapter(MODEL)
    assert adapter.detector.session.get_session_options().intra_op_num_threads == 1
