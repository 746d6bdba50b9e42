"""``model_repository/ocr/1/model.py`` against the stand-in ``pb_utils``, with the real config
and the rapidocr wheel's models: the contract's tensors, padding, one response per request, a
bad request or a failing read failing alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from glassbox.evidence_types import to_fractions
from glassbox.tools.smoke.images import SMOKE_TEXT, render_text

from tests.support.triton_stub import image_request, load_adapter

MODEL = Path(__file__).resolve().parents[2] / "model_repository" / "ocr"


def test_ocr_adapter_answers_each_request_and_fails_a_bad_one_alone(pb_utils):
    from glassbox.nn.ocr import TextReader

    adapter = load_adapter(MODEL)
    text = render_text()
    blank = np.full_like(text, 255)
    responses = adapter.execute(
        [
            image_request(np.stack([text, blank])),
            image_request(np.zeros((1, 50, 50), np.uint8)),  # no channel axis
            {},  # IMAGE missing
            image_request(np.zeros((1, 40, 60, 3), np.float32)),  # wrong type
            image_request(text[None, :120]),  # a different size in the same call
        ]
    )

    assert len(responses) == 5
    for bad in (1, 2, 3):
        assert responses[bad].error is not None and "IMAGE" in responses[bad].error.message()
    first, last = responses[0], responses[4]
    assert first.error is None and last.error is None
    out = first.outputs
    assert set(out) == {"COUNT", "TEXTS", "BOXES", "SCORES"}
    assert out["COUNT"].shape == (2, 1) and out["COUNT"].dtype == np.int32
    assert out["TEXTS"].shape == (2, 64) and out["TEXTS"].dtype == np.object_
    assert out["BOXES"].shape == (2, 64, 4) and out["BOXES"].dtype == np.float32
    assert out["SCORES"].shape == (2, 64) and out["SCORES"].dtype == np.float32
    assert out["COUNT"][1, 0] == 0 and set(out["TEXTS"][1]) == {b""}
    assert not out["BOXES"][1].any() and not out["SCORES"][1].any()

    n = int(out["COUNT"][0, 0])
    local = TextReader(threads=1).read(text)
    assert n == len(local) >= 1
    assert [t.decode() for t in out["TEXTS"][0, :n]] == [line.text for line in local]
    assert any(SMOKE_TEXT.lower() in t.decode().lower() for t in out["TEXTS"][0, :n])
    h, w = text.shape[:2]
    want = np.array([to_fractions(line.box, w, h) for line in local], np.float32)
    np.testing.assert_allclose(out["BOXES"][0, :n], want, atol=1e-6)
    assert (out["BOXES"][0, :n] >= 0).all() and (out["BOXES"][0, :n] <= 1).all()
    assert set(out["TEXTS"][0, n:]) == {b""}
    assert int(last.outputs["COUNT"][0, 0]) >= 1


def test_ocr_adapter_keeps_at_most_the_configured_lines(pb_utils, monkeypatch):
    from glassbox.evidence_types import TextLine

    adapter = load_adapter(MODEL)
    many = [TextLine(f"line {i}", (0.0, i, 10.0, i + 1.0), 0.9) for i in range(100)]
    monkeypatch.setattr(adapter.reader, "read", lambda image: many)
    [response] = adapter.execute([image_request(np.zeros((1, 200, 100, 3), np.uint8))])
    assert response.outputs["COUNT"][0, 0] == 64
    assert response.outputs["TEXTS"][0, 63] == b"line 63"


def test_ocr_adapter_reports_a_failing_read_on_that_request_only(pb_utils, monkeypatch):
    adapter = load_adapter(MODEL)
    real = adapter.reader.read

    def flaky(image):
        if image.shape[0] == 13:
            raise RuntimeError("boom")
        return real(image)

    monkeypatch.setattr(adapter.reader, "read", flaky)
    responses = adapter.execute(
        [
            image_request(np.zeros((1, 13, 40, 3), np.uint8)),
            image_request(np.full((1, 40, 40, 3), 255, np.uint8)),
        ]
    )
    assert "ocr failed: boom" in responses[0].error.message()
    assert responses[1].error is None and responses[1].outputs["COUNT"][0, 0] == 0


def test_ocr_adapter_reads_its_thread_count_from_the_environment(pb_utils, monkeypatch):
    monkeypatch.setenv("GLASSBOX_TORCH_THREADS", "1")
    adapter = load_adapter(MODEL)
    det = adapter.reader.engine.text_det
    assert det.session.session.get_session_options().intra_op_num_threads == 1
