"""Degenerate images through the real Triton model: each is analysed with sane evidence or
rejected with a reason, and none crashes the analysis."""

from __future__ import annotations

import io

import numpy as np
import pytest
from glassbox.analysis.pipeline import analyze
from glassbox.config import Settings
from glassbox.media.imaging import InvalidMedia
from PIL import Image

pytestmark = pytest.mark.integration

SETTINGS = Settings()


def png(width: int, height: int, colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, format="PNG")
    return buf.getvalue()




@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("all black", png(640, 480, (0, 0, 0))),
        ("all white", png(640, 480, (255, 255, 255))),
        ("one pixel", png(1, 1, (120, 30, 200))),
        ("a 6000 x 3 strip", png(6000, 3, (90, 160, 40))),
        ("a 3 x 6000 strip", png(3, 6000, (200, 200, 10))),
    ],
)
def test_a_degenerate_image_is_analysed_with_evidence_inside_the_image(inference, bank, name, data):
    result = analyze(data, inference, bank, SETTINGS)
    assert np.isclose(np.linalg.norm(result.semantic.vector), 1.0, atol=1e-4), name
    for tag in result.tags:
        assert np.all(np.isfinite(tag.cam)), name
        if tag.box is not None:
            x0, y0, x1, y1 = tag.box
            assert 0.0 <= x0 <= x1 <= 1.0 and 0.0 <= y0 <= y1 <= 1.0, (name, tag.box)
        assert tag.justification, name


def test_a_flat_image_has_flat_evidence_so_no_tag_claims_a_region(inference, bank):
    # A uniform picture carries no spatial evidence: every CAM is constant, so any tag's
    # region is the whole image, never a spot the model cannot have seen.
    result = analyze(png(320, 240, (255, 255, 255)), inference, bank, SETTINGS)
    for tag in result.tags:
        cam = np.asarray(tag.cam)
        assert np.ptp(cam) < 1e-3 * max(1.0, float(np.abs(cam).max()))
        assert tag.box in (None, (0.0, 0.0, 1.0, 1.0))


def test_an_image_wider_than_the_side_limit_is_rejected_with_a_reason(inference, bank):
    with pytest.raises(InvalidMedia) as err:
        analyze(png(SETTINGS.max_image_side + 1, 2, (0, 0, 0)), inference, bank, SETTINGS)
    assert err.value.code == "dimensions_too_large" and "12001" in err.value.detail
