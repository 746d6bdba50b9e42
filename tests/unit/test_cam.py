from __future__ import annotations

import io

import numpy as np
import pytest
from glassbox.explain.cam import combine, region_box, render_heatmap_png, upsample
from PIL import Image


def blob(h: int, w: int, cy: float, cx: float, sigma: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))


@pytest.mark.parametrize("size", [(7, 7), (224, 224), (90, 160), (3, 500)])
def test_upsample_has_the_requested_shape_and_spans_zero_to_one(size: tuple[int, int]) -> None:
    cam = np.random.default_rng(1).normal(size=(7, 7)).astype(np.float32)
    heat = upsample(cam, size)
    assert heat.shape == size and heat.dtype == np.float32
    assert heat.min() == pytest.approx(0.0) and heat.max() == pytest.approx(1.0)


def test_upsample_of_a_flat_map_is_all_cold_not_nan() -> None:
    heat = upsample(np.full((7, 7), 3.0), (32, 32))
    assert np.isfinite(heat).all() and not heat.any()


def test_upsample_clips_negative_evidence_to_cold() -> None:
    cam = -np.ones((7, 7))
    cam[3, 3] = 2.0
    heat = upsample(cam, (7, 7))
    assert heat[3, 3] == 1.0
    assert heat[0, 0] == 0.0 and heat[6, 6] == 0.0  # all negative cells are equally cold


def test_upsample_keeps_the_peak_in_the_same_place() -> None:
    cam = np.zeros((7, 7))
    cam[1, 5] = 1.0  # row 1, column 5
    heat = upsample(cam, (70, 70))
    row, col = np.unravel_index(np.argmax(heat), heat.shape)
    assert 10 <= row < 20 and 50 <= col < 60


def test_upsample_does_not_mutate_its_input() -> None:
    cam = np.linspace(-1, 1, 49).reshape(7, 7)
    before = cam.copy()
    upsample(cam, (14, 14))
    np.testing.assert_array_equal(cam, before)


def test_region_box_bounds_a_synthetic_blob() -> None:
    heat = blob(100, 200, cy=30, cx=150, sigma=8)
    x0, y0, x1, y1 = region_box(heat, rel=0.5)
    # half maximum of a Gaussian lies at sigma * sqrt(2 ln 2) ~ 9.4 px from the centre
    assert x0 == pytest.approx(141 / 200, abs=0.01) and x1 == pytest.approx(160 / 200, abs=0.01)
    assert y0 == pytest.approx(21 / 100, abs=0.02) and y1 == pytest.approx(40 / 100, abs=0.02)


def test_region_box_picks_the_largest_component_not_the_hottest() -> None:
    heat = 0.8 * blob(100, 100, cy=70, cx=70, sigma=12) + blob(100, 100, cy=15, cx=15, sigma=3)
    x0, y0, x1, y1 = region_box(heat, rel=0.3)
    assert x0 > 0.4 and y0 > 0.4  # the broad lower-right blob wins over the sharp peak


def test_region_box_treats_diagonal_touch_as_separate_components() -> None:
    heat = np.zeros((6, 6))
    heat[0:2, 0:2] = 1.0
    heat[2:5, 2:5] = 1.0
    assert region_box(heat) == (2 / 6, 2 / 6, 5 / 6, 5 / 6)


def test_region_box_joins_a_u_shape_into_one_component() -> None:
    heat = np.zeros((5, 5))
    heat[0:4, 0] = heat[0:4, 4] = heat[3, :] = 1.0
    assert region_box(heat) == (0.0, 0.0, 1.0, 4 / 5)


def test_region_box_of_a_cold_map_is_the_whole_image() -> None:
    assert region_box(np.zeros((8, 8))) == (0.0, 0.0, 1.0, 1.0)


def test_heatmap_png_is_rgba_and_transparent_where_cold() -> None:
    heat = np.zeros((20, 40), dtype=np.float32)
    heat[5:10, 10:20] = 1.0
    png = Image.open(io.BytesIO(render_heatmap_png(heat, alpha_max=0.6)))
    assert png.format == "PNG" and png.mode == "RGBA" and png.size == (40, 20)
    alpha = np.asarray(png)[..., 3]
    assert alpha[0, 0] == 0
    assert alpha[7, 15] == round(0.6 * 255)


def test_heatmap_colours_get_brighter_as_heat_rises() -> None:
    heat = np.linspace(0, 1, 64, dtype=np.float32)[None, :]
    rgb = np.asarray(Image.open(io.BytesIO(render_heatmap_png(heat))))[0, :, :3].astype(float)
    luma = rgb @ np.array([0.2126, 0.7152, 0.0722])
    assert (np.diff(luma) >= -1.0).all()  # monotonic up to rounding


def test_combine_is_the_weighted_sum_of_maps() -> None:
    cams = np.random.default_rng(2).normal(size=(3, 7, 7))
    weights = [0.5, -0.25, 2.0]
    expected = 0.5 * cams[0] - 0.25 * cams[1] + 2.0 * cams[2]
    np.testing.assert_allclose(combine(cams, weights), expected, rtol=1e-6, atol=1e-6)


def test_combine_rejects_mismatched_weights() -> None:
    with pytest.raises(ValueError):
        combine(np.zeros((3, 7, 7)), [1.0, 2.0])
