"""The words of the lexical channels, and the relevance maths."""

from __future__ import annotations

import numpy as np
import pytest
from glassbox import lexical, relevance
from glassbox.index import Filters


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("dogs", "dog"),
        ("Dog's", "dog"),
        ("bakeries", "bakery"),
        ("boxes", "box"),
        ("running", "run"),
        ("stopped", "stop"),
        ("children", "child"),
        ("people", "person"),
        ("grass", "grass"),
        ("bus", "bus"),
        ("red", "red"),
        ("sing", "sing"),  # too short a base to strip "ing"
    ],
)
def test_stem(word, stem):
    assert lexical.stem(word) == stem


def test_words_drop_stop_words_and_symbols_and_keep_offsets():
    text = "Two dogs, on the grass! 🙂 BAKERY-open"
    found = lexical.words(text)
    assert [w.stem for w in found] == ["two", "dog", "grass", "bakery", "open"]
    assert all(text[w.start : w.end] == w.text for w in found)
    assert lexical.index_text("The DOGS ran") == "dog ran"
    assert lexical.words("?!… 🙂") == []


def test_fit_logistic_recovers_known_parameters():
    rng = np.random.default_rng(0)
    z = rng.normal(size=20_000) * 2
    y = rng.random(20_000) < relevance.sigmoid(-1.5 + 2.0 * z)
    a, b = relevance.fit_logistic(z, y.astype(float))
    assert a == pytest.approx(-1.5, abs=0.1) and b == pytest.approx(2.0, abs=0.1)


def test_calibrate_reports_held_out_scores_per_group():
    rng = np.random.default_rng(1)
    groups = []
    for _ in range(12):
        z = rng.normal(size=30) * 2
        groups.append((z, (rng.random(30) < relevance.sigmoid(-2 + 1.5 * z)).astype(float)))
    cal = relevance.calibrate(groups)
    assert cal.brier < cal.brier_base_rate
    assert sum(n for _, n, _, _ in cal.reliability) == 360
    assert [c for c, _, _ in cal.cutoffs] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    precisions = [p for _, p, _ in cal.cutoffs]
    recalls = [r for _, _, r in cal.cutoffs]
    assert recalls == sorted(recalls, reverse=True) and precisions[-1] >= precisions[0]


def test_background_z_and_noisy_or():
    classes = np.eye(4, dtype=np.float32)
    bg = relevance.background(np.array([1, 0, 0, 0], np.float32), classes)
    assert bg.mean == pytest.approx(0.25) and bg.z(0.25) == pytest.approx(0.0)
    assert relevance.combine([0.5, 0.5]) == pytest.approx(0.75)
    assert relevance.combine([]) == 0.0 and relevance.combine([1.0, 0.2]) == 1.0
    assert relevance.lexical_probability(0.5, 0.9) == pytest.approx(0.45)
    assert relevance.lexical_probability(2.0, 0.9) == pytest.approx(0.9)


def test_filter_expressions_keep_privacy_first():
    assert Filters().expr(7) == "(owner_id == 7 or is_public == true)"
    assert Filters().expr(None) == "is_public == true"
    assert Filters(owner="mine").expr(7) == "owner_id == 7"
    assert Filters(owner="mine").expr(None) == "owner_id == -1"  # nobody's
    full = Filters(kind="image", created_from=10, created_to=20, tags=(3, 4), flagged=True).expr(7)
    assert full == (
        '(owner_id == 7 or is_public == true) and kind == "image" and created >= 10 and '
        'created < 20 and (tag_ids like "% 3 %" or tag_ids like "% 4 %") and flagged == true'
    )
    with pytest.raises(ValueError):
        Filters(kind='image" or true or "').expr(7)
    with pytest.raises(ValueError):
        Filters(owner="everyone").expr(7)
