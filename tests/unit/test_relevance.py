"""Calibrated relevance: the logistic fit, the held-out calibration report, the background
z-score and the noisy-OR of the channels."""

from __future__ import annotations

import numpy as np
import pytest
from glassbox.retrieval import relevance


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
