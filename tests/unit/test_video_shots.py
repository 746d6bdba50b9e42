from __future__ import annotations

import numpy as np
import pytest
from glassbox.video.shots import (
    cut_evidence,
    cuts_by_difference,
    detect_cuts,
    f1_of_cuts,
    format_time,
    frame_clock,
    frame_differences,
    shots_from_probabilities,
)


def curve(n: int, peaks: dict[int, float], base: float = 0.01) -> np.ndarray:
    p = np.full(n, base)
    for frame, value in peaks.items():
        p[frame] = value
    return p


def spans(shots) -> list[tuple[int, int]]:
    return [(s.start_frame, s.end_frame) for s in shots]


# --- format_time -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0:00.00"),
        (4.13, "0:04.13"),
        (59.994, "0:59.99"),
        (59.999, "1:00.00"),
        (61.5, "1:01.50"),
        (600, "10:00.00"),
        (3723.5, "1:02:03.50"),
        (36000, "10:00:00.00"),
    ],
)
def test_format_time_is_minutes_seconds_hundredths_with_hours_when_needed(seconds, text):
    assert format_time(seconds) == text


def test_format_time_in_whole_seconds_rounds_to_the_nearest():
    assert format_time(4.49, hundredths=False) == "0:04"
    assert format_time(4.5, hundredths=False) == "0:05"
    assert format_time(3599.6, hundredths=False) == "1:00:00"


@pytest.mark.parametrize("bad", [-0.01, float("nan"), float("inf")])
def test_format_time_refuses_negative_and_non_finite_times(bad):
    with pytest.raises(ValueError):
        format_time(bad)


# --- cuts and shots ----------------------------------------------------------------------


def test_no_cut_gives_one_shot_covering_the_whole_video():
    shots = shots_from_probabilities(np.full(50, 0.1), fps=25)
    assert len(shots) == 1
    only = shots[0]
    assert (only.index, only.start_frame, only.end_frame) == (0, 0, 50)
    assert only.start_s == 0 and only.end_s == pytest.approx(2.0)
    assert only.cut_probability is None


def test_an_empty_video_has_no_shots():
    assert shots_from_probabilities(np.array([]), fps=25) == []


def test_hard_cuts_split_the_video_and_shots_tile_it():
    p = curve(100, {30: 0.97, 70: 0.8})
    shots = shots_from_probabilities(p, fps=10, min_shot_frames=5)
    assert spans(shots) == [(0, 30), (30, 70), (70, 100)]
    assert [s.index for s in shots] == [0, 1, 2]
    assert [s.cut_probability for s in shots] == [None, 0.97, 0.8]
    assert shots[1].start_s == pytest.approx(3.0) and shots[1].end_s == pytest.approx(7.0)
    assert shots[1].frames == 40 and shots[1].duration_s == pytest.approx(4.0)


def test_a_cross_fade_is_one_cut_at_its_peak():
    p = curve(100, {40: 0.6, 41: 0.8, 42: 0.95, 43: 0.9, 44: 0.7, 45: 0.55})
    shots = shots_from_probabilities(p, fps=25, min_shot_frames=1)
    assert spans(shots) == [(0, 42), (42, 100)]
    assert shots[1].cut_probability == 0.95
    (cut,) = detect_cuts(p)
    assert (cut.frame, cut.first_frame, cut.end_frame) == (42, 40, 46)


def test_a_flat_plateau_cuts_at_its_middle():
    p = curve(60, {20: 0.9, 21: 0.9, 22: 0.9, 23: 0.9, 24: 0.9})
    assert [c.frame for c in detect_cuts(p)] == [22]
    p_even = curve(60, {20: 0.9, 21: 0.9, 22: 0.9, 23: 0.9})
    assert [c.frame for c in detect_cuts(p_even)] == [21]


def test_the_threshold_is_strict_and_configurable():
    p = curve(40, {20: 0.5})
    assert len(shots_from_probabilities(p, fps=10, threshold=0.5, min_shot_frames=1)) == 1
    assert len(shots_from_probabilities(p, fps=10, threshold=0.4, min_shot_frames=1)) == 2


def test_a_transition_at_the_first_frame_starts_nothing():
    p = curve(40, {0: 0.99})
    shots = shots_from_probabilities(p, fps=10, min_shot_frames=1)
    assert spans(shots) == [(0, 40)]
    assert detect_cuts(p) == []


def test_a_short_shot_joins_the_neighbour_behind_its_weaker_cut():
    # shots 0-40, 40-43, 43-100: the short middle one is cut weakly from the previous shot
    p = curve(100, {40: 0.6, 43: 0.95})
    shots = shots_from_probabilities(p, fps=25, min_shot_frames=5)
    assert spans(shots) == [(0, 43), (43, 100)]
    assert shots[1].cut_probability == 0.95
    # the other way round: the weaker cut is after it, it joins the next shot
    p = curve(100, {40: 0.95, 43: 0.6})
    shots = shots_from_probabilities(p, fps=25, min_shot_frames=5)
    assert spans(shots) == [(0, 40), (40, 100)]
    assert shots[1].cut_probability == 0.95


def test_a_short_shot_between_equal_cuts_joins_the_previous_one():
    p = curve(100, {40: 0.9, 43: 0.9})
    assert spans(shots_from_probabilities(p, fps=25, min_shot_frames=5)) == [(0, 43), (43, 100)]


def test_short_first_and_last_shots_join_their_only_neighbour():
    p = curve(100, {2: 0.99, 97: 0.99, 50: 0.7})
    shots = shots_from_probabilities(p, fps=25, min_shot_frames=5)
    assert spans(shots) == [(0, 50), (50, 100)]
    assert shots[0].cut_probability is None and shots[1].cut_probability == 0.7


def test_a_video_shorter_than_the_minimum_is_still_one_shot():
    p = curve(6, {2: 0.99, 4: 0.99})
    assert spans(shots_from_probabilities(p, fps=25, min_shot_frames=10)) == [(0, 6)]


def test_the_default_minimum_shot_is_a_quarter_second():
    p = curve(200, {100: 0.9, 106: 0.9})  # a 6-frame shot
    assert len(shots_from_probabilities(p, fps=25)) == 2  # 7 frames minimum at 25 fps
    assert len(shots_from_probabilities(p, fps=20)) == 3  # 5 frames minimum at 20 fps


def test_random_curves_always_give_tiling_shots_of_the_minimum_length():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 400))
        p = rng.random(n) ** 4
        min_frames = int(rng.integers(1, 30))
        shots = shots_from_probabilities(p, fps=24, min_shot_frames=min_frames)
        assert shots and shots[0].start_frame == 0 and shots[-1].end_frame == n
        for a, b in zip(shots, shots[1:], strict=False):
            assert a.end_frame == b.start_frame
            assert b.cut_probability is not None and b.cut_probability > 0.5
            assert b.cut_probability == p[b.start_frame]
        if len(shots) > 1:
            assert min(s.frames for s in shots) >= min_frames


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        shots_from_probabilities(np.zeros((3, 2)), fps=25)
    with pytest.raises(ValueError):
        shots_from_probabilities(np.array([0.1, np.nan]), fps=25)
    with pytest.raises(ValueError):
        shots_from_probabilities(np.zeros(5), fps=0)


# --- cut evidence ------------------------------------------------------------------------


def test_cut_evidence_is_the_curve_around_the_cut_with_a_label():
    p = curve(200, {103: 0.97}, base=0.02)
    ev = cut_evidence(p, 103, fps=25, radius_frames=3)
    assert ev.frame == 103 and ev.probability == pytest.approx(0.97)
    assert ev.times == pytest.approx([4.0, 4.04, 4.08, 4.12, 4.16, 4.2, 4.24])
    assert ev.probabilities == pytest.approx([0.02, 0.02, 0.02, 0.97, 0.02, 0.02, 0.02])
    assert ev.label == "cut at 0:04.12, p = 0.97"


def test_cut_evidence_is_clipped_at_the_ends_of_the_video():
    p = curve(10, {1: 0.9})
    ev = cut_evidence(p, 1, fps=10, radius_frames=4)
    assert len(ev.times) == 6 and ev.times[0] == 0.0
    ev = cut_evidence(p, 9, fps=10, radius_frames=4)
    assert len(ev.probabilities) == 5 and ev.times[-1] == pytest.approx(0.9)
    with pytest.raises(ValueError):
        cut_evidence(p, 10, fps=10)


# --- the content-difference baseline -----------------------------------------------------


def scene(n: int, colour: tuple[int, int, int], rng, noise: int = 3) -> np.ndarray:
    frames = np.empty((n, 18, 32, 3), dtype=np.uint8)
    base = np.array(colour, dtype=np.int16)
    for i in range(n):
        jitter = rng.integers(-noise, noise + 1, size=(18, 32, 3))
        frames[i] = np.clip(base + jitter, 0, 255)
    return frames


def test_frame_differences_are_mean_absolute_differences():
    frames = np.zeros((3, 2, 2, 3), dtype=np.uint8)
    frames[1] = 10
    frames[2, 0] = 10  # half the pixels stay at 10
    assert frame_differences(frames).tolist() == pytest.approx([10.0, 5.0])
    with pytest.raises(ValueError):
        frame_differences(np.zeros((3, 2, 2), dtype=np.uint8))
    with pytest.raises(ValueError):
        frame_differences(np.zeros((3, 2, 2, 3), dtype=np.float32))


def test_frame_differences_do_not_wrap_around_uint8_and_chunks_agree():
    frames = np.zeros((600, 2, 2, 3), dtype=np.uint8)
    frames[1::2] = 255
    d = frame_differences(frames, chunk=7)
    assert d.shape == (599,) and np.all(d == 255.0)


def test_the_baseline_finds_hard_cuts_between_scenes():
    rng = np.random.default_rng(0)
    frames = np.concatenate(
        [scene(30, (40, 90, 40), rng), scene(25, (200, 60, 60), rng), scene(30, (30, 30, 160), rng)]
    )
    assert cuts_by_difference(frames) == [30, 55]


def test_the_baseline_ignores_a_steady_pan_and_misses_a_slow_dissolve():
    rng = np.random.default_rng(1)
    ramp = np.linspace(0, 255, 64)
    pan = np.stack(
        [np.broadcast_to(np.roll(ramp, 3 * i)[None, :32, None], (18, 32, 3)) for i in range(40)]
    ).astype(np.uint8)
    assert cuts_by_difference(pan) == []
    a, b = scene(1, (40, 90, 40), rng)[0], scene(1, (200, 60, 160), rng)[0]
    w = np.linspace(0, 1, 30)[:, None, None, None]
    dissolve = (a * (1 - w) + b * w).astype(np.uint8)
    frames = np.concatenate(
        [scene(20, (40, 90, 40), rng), dissolve, scene(20, (200, 60, 160), rng)]
    )
    assert cuts_by_difference(frames) == []


def test_the_baseline_needs_a_minimum_difference_and_keeps_the_larger_of_close_cuts():
    rng = np.random.default_rng(2)
    frames = np.concatenate(
        [scene(20, (100, 100, 100), rng, 0), scene(20, (106, 106, 106), rng, 0)]
    )
    assert cuts_by_difference(frames) == []  # a 6-level step is under MIN_DIFFERENCE
    assert cuts_by_difference(frames, min_difference=5) == [20]
    flash = np.concatenate(
        [
            scene(20, (50, 50, 50), rng, 0),
            scene(4, (120, 120, 120), rng, 0),
            scene(20, (250, 250, 250), rng, 0),
        ]
    )
    assert cuts_by_difference(flash) == [20, 24]
    assert cuts_by_difference(flash, min_gap_frames=5) == [24]  # 130 levels beat 70
    # within the adaptive window the larger change raises the other's reference: one cut
    close = np.concatenate([flash[:22], flash[24:]])
    assert cuts_by_difference(close) == [22]


def test_the_baseline_handles_tiny_videos():
    assert cuts_by_difference(np.zeros((1, 4, 4, 3), dtype=np.uint8)) == []
    two = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    two[1] = 200
    assert cuts_by_difference(two) == [1]


# --- F1 of cuts --------------------------------------------------------------------------


def test_f1_matches_within_the_tolerance():
    score = f1_of_cuts([10, 52, 90], [11, 50, 70], tolerance_frames=2)
    assert score.matched == 2
    assert score.precision == pytest.approx(2 / 3) and score.recall == pytest.approx(2 / 3)
    assert score.f1 == pytest.approx(2 / 3)
    assert f1_of_cuts([10, 53], [10, 50], tolerance_frames=2).matched == 1


def test_f1_matches_one_to_one():
    # two predictions near one true cut: one of them is a false positive
    score = f1_of_cuts([49, 50, 51], [50], tolerance_frames=2)
    assert (score.matched, score.recall) == (1, 1.0)
    assert score.precision == pytest.approx(1 / 3)


def test_f1_finds_the_largest_matching_not_the_nearest_pairs():
    # 3 is nearest to 4, but matching 3-2 and 5-4 pairs both
    score = f1_of_cuts([3, 5], [2, 4], tolerance_frames=1)
    assert score.matched == 2 and score.f1 == 1.0
    score = f1_of_cuts([5, 3], [4, 2], tolerance_frames=1)  # order of the inputs is free
    assert score.matched == 2


def test_f1_edge_cases():
    assert f1_of_cuts([], []).f1 == 1.0
    none_found = f1_of_cuts([], [10, 20])
    assert (none_found.precision, none_found.recall, none_found.f1) == (1.0, 0.0, 0.0)
    all_wrong = f1_of_cuts([5], [])
    assert (all_wrong.precision, all_wrong.recall, all_wrong.f1) == (0.0, 1.0, 0.0)
    assert f1_of_cuts([10], [12], tolerance_frames=0).matched == 0
    with pytest.raises(ValueError):
        f1_of_cuts([1], [1], tolerance_frames=-1)


def test_f1_against_a_brute_force_maximum_matching():
    from itertools import permutations

    rng = np.random.default_rng(3)
    for _ in range(150):
        pred = sorted(rng.choice(30, size=int(rng.integers(0, 5)), replace=False).tolist())
        true = sorted(rng.choice(30, size=int(rng.integers(0, 5)), replace=False).tolist())
        best = 0
        small, large = (pred, true) if len(pred) <= len(true) else (true, pred)
        for perm in permutations(large, len(small)):
            best = max(best, sum(abs(a - b) <= 2 for a, b in zip(small, perm, strict=True)))
        assert f1_of_cuts(pred, true, tolerance_frames=2).matched == best


# --- presentation times ------------------------------------------------------------------


def test_shots_take_their_times_from_the_frames_presentation_times():
    # a variable-rate clip: 10 frames at 0.1 s, then 10 at 0.05 s
    times = np.concatenate([np.arange(10) * 0.1, 1.0 + np.arange(10) * 0.05])
    p = curve(20, {10: 0.9, 15: 0.8})
    shots = shots_from_probabilities(p, fps=20, min_shot_frames=1, frame_times_s=times)
    bounds = [t for s in shots for t in (s.start_s, s.end_s)]
    assert bounds == pytest.approx([0.0, 1.0, 1.0, 1.25, 1.25, 1.5])  # last frame: 1 / fps
    ev = cut_evidence(p, 10, fps=20, radius_frames=1, frame_times_s=times)
    assert ev.time_s == pytest.approx(1.0)
    assert ev.times == pytest.approx([0.9, 1.0, 1.05])


@pytest.mark.parametrize(
    "times", [np.arange(5) * 0.1, np.array([0, 0.1, 0.05, 0.2, 0.3, 0.4]), np.full(6, np.nan)]
)
def test_frame_times_must_be_one_per_frame_and_non_decreasing(times):
    with pytest.raises(ValueError):
        shots_from_probabilities(np.zeros(6), fps=10, frame_times_s=times)


def test_frame_clock_defaults_to_the_nominal_rate():
    assert frame_clock(3, 4).tolist() == [0, 0.25, 0.5, 0.75]
    assert frame_clock(2, 10, [5.0, 5.2]).tolist() == pytest.approx([5.0, 5.2, 5.3])
    assert frame_clock(0, 10, []).tolist() == [0.0]
