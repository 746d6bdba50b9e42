"""glassbox.nn.ocr: PP-OCR from the rapidocr wheel, offline, on CPU."""

from __future__ import annotations

import numpy as np
import pytest
from glassbox.evidence_types import TextLine
from glassbox.tools.smoke.images import SMOKE_TEXT, load_rgb, render_text

DARKNET_DATA = "/usr/share/darknet/data"


@pytest.fixture(scope="module")
def reader():
    from glassbox.nn.ocr import TextReader

    return TextReader(threads=1)


def test_loads_and_reads_without_the_network(no_network):
    from glassbox.nn.ocr import TextReader

    lines = TextReader(threads=1).read(render_text())
    assert any(SMOKE_TEXT.lower() in line.text.lower() for line in lines)


def test_reads_rendered_text_with_a_box_around_it(reader):
    image = render_text(SMOKE_TEXT, size=(800, 240), font_px=72, origin=(40, 80))
    lines = reader.read(image)
    assert [type(line) for line in lines] == [TextLine] * len(lines)
    match = [line for line in lines if SMOKE_TEXT.lower() in line.text.lower()]
    assert match, [line.text for line in lines]
    x0, y0, x1, y1 = match[0].box
    # the text starts at (40, 80); its glyphs are about 470 × 55 px
    assert 0 <= x0 < 60 and 60 < y0 < 110 and 450 < x1 < 650 and 120 < y1 < 190
    assert 0.9 <= match[0].score <= 1.0


def test_reads_two_lines_in_reading_order(reader):
    from PIL import Image

    top = render_text("HELLO WORLD", size=(700, 400), font_px=64, origin=(40, 40))
    image = Image.fromarray(top)
    bottom = render_text("GOODBYE MOON", size=(700, 120), font_px=64, origin=(40, 20))
    image.paste(Image.fromarray(bottom), (0, 250))
    texts = [line.text.upper() for line in reader.read(np.asarray(image))]
    assert len(texts) == 2 and "HELLO" in texts[0] and "GOODBYE" in texts[1], texts


@pytest.mark.parametrize("value", [255, 0])
def test_a_plain_image_has_no_text(reader, value):
    assert reader.read(np.full((300, 400, 3), value, dtype=np.uint8)) == []


@pytest.mark.parametrize("name", ["eagle.jpg", "dog.jpg"])
def test_a_photo_without_text_has_none(reader, name):
    assert reader.read(load_rgb(f"{DARKNET_DATA}/{name}")) == []


@pytest.mark.parametrize("shape", [(1, 1, 3), (5, 3000, 3), (3000, 5, 3), (2000, 100, 3)])
def test_odd_shapes_are_handled(reader, shape):
    image = np.full(shape, 255, dtype=np.uint8)
    assert reader.read(image) == []


def test_boxes_lie_inside_the_image_even_for_text_at_the_edge(reader):
    image = render_text("EDGE TEXT", size=(360, 90), font_px=64, origin=(-6, 10))
    lines = reader.read(image)
    assert lines, "edge text not read"
    h, w = image.shape[:2]
    for line in lines:
        x0, y0, x1, y1 = line.box
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert isinstance(line.text, str) and isinstance(line.score, float)


def test_is_deterministic(reader):
    image = render_text()
    assert reader.read(image) == reader.read(image)


def test_rejects_a_wrong_array(reader):
    with pytest.raises(ValueError):
        reader.read(np.zeros((10, 10), dtype=np.uint8))
    with pytest.raises(ValueError):
        reader.read(np.zeros((10, 10, 3), dtype=np.float32))
