from __future__ import annotations

import numpy as np
import pytest
from glassbox.explain.regions import (
    label_components,
    largest_component_bounds,
    region_grid,
    relation,
    separate_regions,
    union_box,
)


def mask_of(*rows: str) -> np.ndarray:
    return np.array([[ch == "#" for ch in row] for row in rows])


# --- labelling ------------------------------------------------------------------------


def test_components_are_4_connected_and_numbered_in_raster_order():
    mask = mask_of(
        "##..#",
        "#...#",
        ".#...",
        "...##",
    )
    labels, n = label_components(mask)
    assert n == 4
    assert labels.tolist() == [
        [1, 1, 0, 0, 2],
        [1, 0, 0, 0, 2],
        [0, 3, 0, 0, 0],  # touches component 1 only at a corner: apart
        [0, 0, 0, 4, 4],
    ]


def test_a_u_shape_is_one_component_though_its_arms_start_apart():
    mask = mask_of(
        "#..#.#",
        "#..#.#",
        "####.#",
        ".....#",
        "######",
    )
    labels, n = label_components(mask)
    assert n == 2
    assert set(labels[mask].tolist()) == {1, 2}
    assert (labels[:3, 0] == 1).all() and (labels[:3, 3] == 1).all()
    assert (labels[4] == 2).all() and (labels[:, 5] == 2).all()  # the second arms join last


def test_an_empty_mask_has_no_components():
    labels, n = label_components(np.zeros((3, 4), dtype=bool))
    assert n == 0 and labels.shape == (3, 4) and not labels.any()


def test_largest_component_bounds_by_pixel_count_ties_to_the_first():
    mask = mask_of(
        "#.###",
        "#....",
        "#.#..",
    )
    assert largest_component_bounds(mask) == (0, 0, 2, 0)  # 3 pixels each: the first wins
    mask[2, 3] = True
    mask[1, 4] = True
    assert largest_component_bounds(mask) == (0, 2, 1, 4)
    with pytest.raises(ValueError):
        largest_component_bounds(np.zeros((2, 2), dtype=bool))


# --- separated regions ----------------------------------------------------------------


def test_separate_regions_on_an_empty_map():
    assert separate_regions(np.zeros((10, 10))) == []


def test_separate_regions_are_boxed_largest_first():
    heat = np.zeros((10, 10))
    heat[1:3, 1:3] = 1.0
    heat[5:9, 5:9] = 0.9
    assert separate_regions(heat) == [(0.5, 0.5, 0.9, 0.9), (0.1, 0.1, 0.3, 0.3)]


# --- boxes ----------------------------------------------------------------------------


def test_union_box_holds_all_boxes():
    assert union_box([(0.1, 0.2, 0.3, 0.4), (0.2, 0.1, 0.5, 0.3)]) == (0.1, 0.1, 0.5, 0.4)


def test_relation_reads_the_centres_of_boxes_that_are_clearly_apart():
    left, right = (0.0, 0.4, 0.2, 0.6), (0.6, 0.4, 0.8, 0.6)
    assert relation(left, right, 0.3, 0.15) == "on the left of"
    assert relation(right, left, 0.3, 0.15) == "on the right of"
    top, bottom = (0.4, 0.0, 0.6, 0.2), (0.4, 0.7, 0.6, 0.9)
    assert relation(top, bottom, 0.3, 0.15) == "above"
    assert relation(bottom, top, 0.3, 0.15) == "below"
    assert relation(left, (0.1, 0.4, 0.3, 0.6), 0.3, 0.15) is None  # overlapping
    assert relation(left, (0.2, 0.4, 0.28, 0.6), 0.3, 0.15) is None  # too close


@pytest.mark.parametrize(
    ("aspect", "grid"), [((100, 100), (112, 112)), ((300, 600), (56, 112)), ((0, 0), (1, 1))]
)
def test_region_grid_keeps_the_aspect_with_112_cells_on_the_longer_side(aspect, grid):
    assert region_grid(aspect) == grid
