"""glassbox.nn.ocr's gate in the models' environment (rapidocr): the small first pass that
skips the full read of images without text, and reads what the full reader reads when it
opens (``GLASSBOX_OCR_GATE``; the measurement behind it is ``bench/ocr.py``)."""

from __future__ import annotations

import numpy as np
import pytest
from glassbox.nn.ocr import Gate


@pytest.fixture(scope="module")
def readers():
    from glassbox.nn.ocr import TextReader

    full = TextReader(threads=1)
    return full, TextReader(threads=1, gate=Gate())


def _line(text: str, size: tuple[int, int], font_px: int, origin: tuple[int, int]) -> np.ndarray:
    from glassbox.tools.smoke.images import render_text

    return render_text(text, size=size, font_px=font_px, origin=origin)


@pytest.mark.parametrize("value", [255, 0, 128])
def test_a_blank_image_gates_out(readers, value):
    _, gated = readers
    image = np.full((960, 1280, 3), value, dtype=np.uint8)
    assert not gated.may_hold_text(image)
    assert gated.read(image) == []


def test_a_rendered_line_of_small_text_gates_in(readers):
    full, gated = readers
    # 20 px type on an evidence-sized page: the full pass sees it at its own size (960 ≥ 736)
    image = _line("Platform 9 to Leeds", (1280, 960), 20, (300, 500))
    assert full.read(image), "the full reader should read this line"
    assert gated.may_hold_text(image)


def test_the_gated_reader_reads_what_the_full_reader_reads(readers):
    import io

    from glassbox.moderation.samples import personal_data_card
    from PIL import Image

    full, gated = readers
    card = np.asarray(Image.open(io.BytesIO(personal_data_card())).convert("RGB"))
    two_lines = _line("HELLO WORLD 42", (900, 300), 48, (40, 100))
    for image in (card, two_lines):
        expected = full.read(image)
        assert expected and gated.read(image) == expected


def test_a_photo_without_text_gates_out_and_reads_nothing():
    from glassbox.nn.ocr import TextReader
    from glassbox.tools.smoke.images import load_rgb

    gated = TextReader(threads=1, gate=Gate())
    photo = load_rgb("/usr/share/darknet/data/dog.jpg")
    assert not gated.may_hold_text(photo) and gated.read(photo) == []


@pytest.mark.parametrize("shape", [(1, 1, 3), (5, 3000, 3), (3000, 5, 3), (2000, 100, 3)])
def test_odd_shapes_pass_through_the_gate(readers, shape):
    _, gated = readers
    assert gated.read(np.full(shape, 255, dtype=np.uint8)) == []
