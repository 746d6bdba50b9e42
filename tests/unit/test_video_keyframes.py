from __future__ import annotations

import numpy as np
import pytest
from glassbox.video.keyframes import (
    blank_margin,
    choose_keyframes,
    grey,
    is_blank,
    middle_third,
    plan_candidates,
    sharpness,
    windows,
)
from glassbox.video.shots import Shot


def shot(start: int, end: int, fps: float = 25.0, index: int = 0) -> Shot:
    return Shot(index, start, end, start / fps, end / fps, None)


def checkerboard(cell: int = 2, size: int = 32, low: int = 40, high: int = 200) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    board = np.where(((yy // cell) + (xx // cell)) % 2 == 0, low, high).astype(np.uint8)
    return np.repeat(board[:, :, None], 3, axis=2)


def box_blur(image: np.ndarray, passes: int = 2) -> np.ndarray:
    out = image.astype(np.float64)
    for _ in range(passes):
        padded = np.pad(out, ((1, 1), (1, 1), (0, 0)), mode="edge")
        out = (
            sum(
                padded[dy : dy + out.shape[0], dx : dx + out.shape[1]]
                for dy in range(3)
                for dx in range(3)
            )
            / 9
        )
    return out.astype(np.uint8)


def flat(value: int, size: int = 32) -> np.ndarray:
    return np.full((size, size, 3), value, dtype=np.uint8)


# --- measures ----------------------------------------------------------------------------


def test_grey_is_bt601_luma():
    img = np.zeros((1, 3, 3), dtype=np.uint8)
    img[0, 0] = (255, 0, 0)
    img[0, 1] = (0, 255, 0)
    img[0, 2] = (0, 0, 255)
    assert grey(img)[0].tolist() == pytest.approx([0.299 * 255, 0.587 * 255, 0.114 * 255])
    assert grey(np.full((2, 2), 7, dtype=np.uint8)).tolist() == [[7.0, 7.0], [7.0, 7.0]]
    with pytest.raises(ValueError):
        grey(np.zeros((2, 2, 4)))


def test_sharpness_is_zero_for_flat_and_tiny_images():
    assert sharpness(flat(128)) == 0.0
    assert sharpness(np.full((2, 50, 3), 9, dtype=np.uint8)) == 0.0


def test_sharpness_is_the_variance_of_the_laplacian():
    # one bright pixel in the middle of a 5x5 grey image: the interior Laplacian is -4v at the
    # centre and v at its four neighbours, 0 at the four corners of the interior
    img = np.zeros((5, 5), dtype=np.float64)
    img[2, 2] = 10
    values = np.array([-40, 10, 10, 10, 10, 0, 0, 0, 0], dtype=np.float64)
    assert sharpness(img) == pytest.approx(values.var())


def test_blurring_lowers_sharpness():
    sharp = checkerboard()
    blurred = box_blur(sharp)
    assert sharpness(sharp) > 5 * sharpness(blurred) > 0


def test_black_white_and_flat_frames_are_blank_textured_ones_are_not():
    assert is_blank(flat(0))
    assert is_blank(flat(255))  # bright but featureless
    assert is_blank(flat(128))
    rng = np.random.default_rng(0)
    dark_noise = rng.integers(0, 20, size=(32, 32, 3)).astype(np.uint8)  # mean ~9.5
    assert is_blank(dark_noise)
    assert not is_blank(checkerboard())
    assert blank_margin(checkerboard()) > 1


def test_blank_thresholds_are_configurable_and_zero_switches_one_off():
    dim = checkerboard(low=5, high=25)  # mean 15, std 10
    assert is_blank(dim)
    assert not is_blank(dim, black_luma=10)
    assert not is_blank(flat(128), flat_std=0)
    assert blank_margin(flat(128), black_luma=0, flat_std=0) == float("inf")


# --- windows and candidates --------------------------------------------------------------


def test_a_short_shot_is_one_window():
    assert windows(shot(10, 60), fps=25, interval_s=4) == [(10, 60)]
    assert windows(shot(10, 600), fps=25, interval_s=None) == [(10, 600)]


def test_a_long_shot_has_about_one_window_per_interval():
    assert windows(shot(0, 300), fps=25, interval_s=4) == [(0, 100), (100, 200), (200, 300)]
    assert len(windows(shot(0, 250), fps=25, interval_s=4)) == 3  # 2.5 intervals, half up
    assert len(windows(shot(0, 240), fps=25, interval_s=4)) == 2  # 2.4 intervals


def test_windows_tile_the_shot_and_never_outnumber_its_frames():
    for start, end in [(7, 8), (3, 5), (0, 1000), (13, 177)]:
        parts = windows(shot(start, end), fps=30, interval_s=0.001)
        assert parts[0][0] == start and parts[-1][1] == end
        assert all(a < b for a, b in parts)
        assert all(p[1] == q[0] for p, q in zip(parts, parts[1:], strict=False))
        assert len(parts) <= end - start


def test_windows_refuse_bad_arguments():
    with pytest.raises(ValueError):
        windows(shot(5, 5), fps=25)
    with pytest.raises(ValueError):
        windows(shot(0, 50), fps=25, interval_s=0)
    with pytest.raises(ValueError):
        windows(shot(0, 50), fps=-1)


def test_middle_third_is_never_empty():
    assert middle_third(0, 90) == (30, 60)
    assert middle_third(10, 11) == (10, 11)
    assert middle_third(10, 12) == (10, 12)
    assert middle_third(10, 14) == (11, 13)


def test_candidates_are_spread_over_the_middle_third():
    frames = plan_candidates(shot(0, 90), fps=25, per_window=5)
    assert len(frames) == 5 and frames == sorted(frames)
    assert frames[0] == 30 and frames[-1] == 59
    assert all(30 <= f < 60 for f in frames)


def test_a_short_middle_third_gives_all_its_frames():
    assert plan_candidates(shot(100, 102), fps=25, per_window=5) == [100, 101]
    assert plan_candidates(shot(0, 9), fps=25, per_window=5) == [3, 4, 5]


def test_long_shots_get_candidates_in_every_window():
    frames = plan_candidates(shot(0, 300), fps=25, interval_s=4, per_window=3)
    assert len(frames) == 9
    for start, end in windows(shot(0, 300), fps=25, interval_s=4):
        lo, hi = middle_third(start, end)
        assert len([f for f in frames if lo <= f < hi]) == 3
    with pytest.raises(ValueError):
        plan_candidates(shot(0, 300), fps=25, per_window=0)


# --- choosing ----------------------------------------------------------------------------


def test_the_sharpest_frame_of_the_middle_third_is_chosen():
    s = shot(0, 90)
    blurred = box_blur(checkerboard())
    candidates = {f: blurred for f in range(0, 90, 5)}
    candidates[40] = checkerboard()
    candidates[5] = checkerboard(cell=1)  # sharper still, but outside the middle third
    (kf,) = choose_keyframes(s, candidates, fps=25)
    assert (kf.shot_index, kf.frame, kf.blank) == (0, 40, False)
    assert kf.time_s == pytest.approx(1.6)
    assert kf.sharpness == pytest.approx(sharpness(checkerboard()))


def test_a_blank_frame_is_never_chosen_while_another_exists():
    s = shot(0, 90)
    rng = np.random.default_rng(1)
    black_noise = rng.integers(0, 12, size=(32, 32, 3)).astype(np.uint8)  # sharp but dark
    dull = checkerboard(cell=8, low=60, high=70)  # in focus but low contrast
    assert sharpness(black_noise) > sharpness(dull) and not is_blank(dull)
    candidates = {40: black_noise, 45: flat(255), 50: dull}
    (kf,) = choose_keyframes(s, candidates, fps=25)
    assert kf.frame == 50 and not kf.blank


def test_a_window_with_only_blank_middle_frames_uses_its_other_frames():
    s = shot(0, 90)
    candidates = {45: flat(0), 10: box_blur(checkerboard()), 80: checkerboard()}
    (kf,) = choose_keyframes(s, candidates, fps=25)
    assert kf.frame == 80 and not kf.blank


def test_when_every_candidate_is_blank_the_least_blank_is_flagged():
    s = shot(0, 90, index=4)
    candidates = {30: flat(0), 45: flat(10), 60: checkerboard(low=2, high=14)}
    (kf,) = choose_keyframes(s, candidates, fps=25)
    assert (kf.shot_index, kf.frame, kf.blank) == (4, 60, True)


def test_a_long_shot_gets_one_keyframe_per_window_in_order():
    fps = 25
    s = shot(0, 300, fps)
    texture = checkerboard(cell=4)
    candidates = {f: texture for f in plan_candidates(s, fps, interval_s=4, per_window=5)}
    candidates[150] = checkerboard(cell=1)  # the sharpest frame of the middle window
    kfs = choose_keyframes(s, candidates, fps, interval_s=4)
    assert [k.frame for k in kfs][1] == 150
    assert len(kfs) == 3 and [k.frame for k in kfs] == sorted(k.frame for k in kfs)
    for kf, (start, end) in zip(kfs, windows(s, fps, 4), strict=True):
        lo, hi = middle_third(start, end)
        assert lo <= kf.frame < hi and kf.time_s == pytest.approx(kf.frame / fps)
    # equal sharpness: the frame closest to the window's middle wins
    assert kfs[0].frame == 50 and kfs[2].frame == 250


def test_blank_windows_of_a_long_shot_give_no_keyframe_but_the_shot_keeps_one():
    fps = 25
    s = shot(0, 300, fps)
    candidates = {50: flat(0), 150: checkerboard(), 250: flat(0)}
    kfs = choose_keyframes(s, candidates, fps, interval_s=4)
    assert [(k.frame, k.blank) for k in kfs] == [(150, False)]


def test_candidates_outside_the_shot_are_ignored_and_none_inside_is_an_error():
    s = shot(100, 190, index=2)
    candidates = {10: checkerboard(cell=1), 140: checkerboard(cell=4), 500: checkerboard(cell=1)}
    (kf,) = choose_keyframes(s, candidates, fps=25)
    assert kf.frame == 140 and kf.shot_index == 2
    with pytest.raises(ValueError):
        choose_keyframes(s, {10: checkerboard()}, fps=25)


def test_planned_candidates_always_yield_a_keyframe_per_window():
    rng = np.random.default_rng(5)
    for _ in range(30):
        start = int(rng.integers(0, 100))
        s = shot(start, start + int(rng.integers(1, 600)))
        frames = plan_candidates(s, 25, interval_s=3, per_window=4)
        candidates = {f: checkerboard(cell=int(rng.integers(1, 5))) for f in frames}
        kfs = choose_keyframes(s, candidates, 25, interval_s=3)
        assert len(kfs) == len(windows(s, 25, 3))
        assert all(k.frame in candidates and not k.blank for k in kfs)


def test_keyframe_times_come_from_the_frames_presentation_times_when_given():
    s = shot(10, 40)
    times = 100.0 + np.arange(50) * 0.04
    (kf,) = choose_keyframes(s, {25: checkerboard()}, fps=25, frame_times_s=times)
    assert kf.frame == 25 and kf.time_s == pytest.approx(101.0)
    with pytest.raises(ValueError):
        choose_keyframes(s, {25: checkerboard()}, fps=25, frame_times_s=times[:39])
    (kf,) = choose_keyframes(s, {25: checkerboard()}, fps=25, frame_times_s=times[:40])
    assert kf.time_s == pytest.approx(101.0)
