from __future__ import annotations

import numpy as np
import pytest
from glassbox.explain.justify import (
    describe_box,
    format_contributions,
    search_justification,
    select_tags,
    tag_justification,
)


def test_tags_are_the_concepts_over_the_threshold_most_probable_first() -> None:
    probs = np.array([0.05, 0.40, 0.12, 0.30, 0.09, 0.04])
    assert select_tags(probs, threshold=0.10, max_tags=5) == [(1, 0.40), (3, 0.30), (2, 0.12)]


def test_tags_are_capped_at_max_tags() -> None:
    probs = np.full(10, 0.1)
    assert len(select_tags(probs, threshold=0.05, max_tags=3)) == 3


def test_a_clear_winner_below_the_threshold_still_gives_one_tag() -> None:
    probs = np.array([0.07, 0.02, 0.01])
    assert select_tags(probs, threshold=0.10, max_tags=5) == [(0, 0.07)]


def test_a_flat_distribution_gives_no_tags() -> None:
    probs = np.full(1000, 0.001)
    assert select_tags(probs, threshold=0.10, max_tags=5) == []


def test_zero_max_tags_gives_no_tags() -> None:
    assert select_tags(np.array([0.9, 0.1]), threshold=0.1, max_tags=0) == []


def test_tag_justification_names_the_tag_the_region_and_the_runner_up() -> None:
    text = tag_justification(
        "golden retriever", 0.62, (0.05, 0.35, 0.30, 0.65), "Labrador retriever", 0.12
    )
    assert text == (
        "Tagged golden retriever (62%): the evidence concentrates in a small region at the "
        "centre-left of the image; next best: Labrador retriever (12%)."
    )


def test_tag_justification_without_a_box_or_runner_up_is_still_a_sentence() -> None:
    assert tag_justification("tabby", 0.5, None, None) == "Tagged tabby (50%)."


def test_tag_justification_for_a_region_covering_most_of_the_image() -> None:
    text = tag_justification("seashore", 0.3, (0.0, 0.0, 1.0, 0.9), None)
    assert text == "Tagged seashore (30%): the evidence spreads over most of the image."


@pytest.mark.parametrize(
    ("box", "words"),
    [
        ((0.0, 0.0, 0.2, 0.2), "a small region at the top-left"),
        ((0.4, 0.0, 0.6, 0.2), "a small region at the top"),
        ((0.8, 0.8, 1.0, 1.0), "a small region at the bottom-right"),
        ((0.3, 0.3, 0.7, 0.7), "a medium region at the centre"),
        ((0.45, 0.1, 1.0, 0.8), "a large region at the centre-right"),
    ],
)
def test_boxes_are_described_by_position_and_size(box, words: str) -> None:
    assert describe_box(box) == f"{words} of the image"


def test_search_justification_names_the_top_concepts() -> None:
    text = search_justification(
        "dog", [("golden retriever", 0.41), ("Labrador retriever", 0.12)], 0.53
    )
    assert (
        text
        == 'Matches "dog" mostly through golden retriever (0.41) and Labrador retriever (0.12).'
    )


def test_search_justification_names_at_most_three_and_skips_negligible_ones() -> None:
    parts = [("a", 0.5), ("b", 0.2), ("c", 0.1), ("d", 0.09), ("e", -0.1)]
    assert search_justification("x", parts, 0.79) == (
        'Matches "x" mostly through a (0.50), b (0.20) and c (0.10).'
    )
    assert "tiny" not in search_justification("x", [("big", 1.0), ("tiny", 0.01)], 1.01)


def test_search_justification_without_support_says_so() -> None:
    text = search_justification("spaceship", [("tabby", -0.02)], -0.02)
    assert text == 'No concept of this item supports "spaceship" (score -0.02).'


def test_format_contributions_reads_as_a_sum() -> None:
    parts = [("golden retriever", 0.41), ("Labrador retriever", 0.12), ("tabby", -0.02)]
    assert (
        format_contributions(parts)
        == "golden retriever 0.41 + Labrador retriever 0.12 − tabby 0.02 = 0.51"
    )


def test_format_contributions_folds_the_rest_into_one_term_so_the_line_still_sums() -> None:
    parts = [("golden retriever", 0.41), ("Labrador retriever", 0.12), ("tabby", -0.02)]
    assert format_contributions(parts, limit=1) == "golden retriever 0.41 + 2 more 0.10 = 0.51"
    assert format_contributions(parts[:1]) == "golden retriever 0.41"
