"""InferenceClient.read_text / detect_nsfw against the real ``ocr`` and ``nsfw_detector``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from glassbox.clients.triton import InferenceClient, InferenceError, InferenceUnavailable
from glassbox.evidence_types import Detection, TextLine
from glassbox.tools.smoke.images import SMOKE_TEXT, load_rgb, render_text

pytestmark = pytest.mark.integration



def test_both_models_are_ready(inference: InferenceClient) -> None:
    assert inference.model_ready("ocr") and inference.model_ready("nsfw_detector")


def test_rendered_text_is_read_with_a_box_around_it(inference: InferenceClient) -> None:
    image = render_text(SMOKE_TEXT, size=(800, 240), font_px=72, origin=(40, 80))
    lines = inference.read_text(image)
    assert lines and all(isinstance(line, TextLine) for line in lines)
    match = [line for line in lines if SMOKE_TEXT.lower() in line.text.lower()]
    assert match, [line.text for line in lines]
    x0, y0, x1, y1 = match[0].box  # fractions of 800 × 240; the text starts at (40, 80)
    assert 0 <= x0 < 60 / 800 and 60 / 240 < y0 < 110 / 240
    assert 450 / 800 < x1 < 650 / 800 and 120 / 240 < y1 < 190 / 240
    assert 0.9 <= match[0].score <= 1.0
    for line in lines:
        assert 0 <= line.box[0] < line.box[2] <= 1 and 0 <= line.box[1] < line.box[3] <= 1


@pytest.mark.parametrize("name", ["eagle.jpg", "dog.jpg"])
def test_a_photo_without_text_has_none(inference: InferenceClient, samples, name) -> None:
    assert inference.read_text(load_rgb(samples / name)) == []


def test_a_blank_image_has_no_text(inference: InferenceClient) -> None:
    assert inference.read_text(np.full((200, 300, 3), 255, dtype=np.uint8)) == []


@pytest.mark.parametrize("name", ["dog.jpg", "eagle.jpg", "person.jpg"])
def test_safe_photos_have_no_exposed_part_at_half_confidence(
    inference: InferenceClient, samples, name
) -> None:
    found = inference.detect_nsfw(load_rgb(samples / name))
    assert all(isinstance(d, Detection) for d in found)
    assert not [d for d in found if d.exposed and d.score >= 0.5], found
    for d in found:
        assert 0 <= d.box[0] < d.box[2] <= 1 and 0 <= d.box[1] < d.box[3] <= 1
        assert 0.2 <= d.score <= 1


def test_concurrent_requests_of_different_sizes_both_succeed(inference: InferenceClient) -> None:
    small = render_text("HELLO 42", size=(420, 120), font_px=64, origin=(20, 20))
    large = render_text(SMOKE_TEXT, size=(900, 300), font_px=80, origin=(30, 100))
    jobs = [
        (inference.read_text, small),
        (inference.read_text, large),
        (inference.detect_nsfw, small),
        (inference.detect_nsfw, large),
    ]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = [f.result(timeout=120) for f in [pool.submit(fn, img) for fn, img in jobs]]
    small_text = " ".join(line.text.upper() for line in results[0])  # one or two lines
    assert "HELLO" in small_text and "42" in small_text, results[0]
    assert any(SMOKE_TEXT in line.text.upper() for line in results[1]), results[1]
    assert isinstance(results[2], list) and isinstance(results[3], list)


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
        inference.read_text(bad)
    with pytest.raises(InferenceError):
        inference.detect_nsfw(bad)


def test_an_unreachable_server_is_retryable() -> None:
    inference = InferenceClient("127.0.0.1:9", timeout=1.0)  # discard port: nothing listens
    with pytest.raises(InferenceUnavailable):
        inference.read_text(np.zeros((20, 20, 3), dtype=np.uint8))
    with pytest.raises(InferenceUnavailable):
        inference.detect_nsfw(np.zeros((20, 20, 3), dtype=np.uint8))
