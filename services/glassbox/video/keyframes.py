"""Keyframes: which frames of a shot stand for it (numpy only; the caller decodes).

A shot is split into windows: one for a short shot, about one per ``interval_s`` seconds for a
long one (``round(duration / interval_s)`` equal windows, at least one, ``interval_s=None``:
one per shot). Each window gives one keyframe, the sharpest non-blank candidate in the middle
third of the window (so, for a one-window shot, the middle third of the shot): the middle
frames of a shot are the least likely to belong to a transition.

Two steps, so only a few frames are decoded: :func:`plan_candidates` names the frames to
decode, :func:`choose_keyframes` picks among the decoded ones (any frame of the shot may be a
candidate, say the decoder's key frames; those outside the shot are ignored). A window with
no candidate in its middle third uses its other candidates; a window with none gives nothing.

- **sharpness**: the variance of the 4-neighbour Laplacian of the grey (BT.601 luma) image, on
  its interior pixels; it is higher for in-focus, unblurred frames of the same size;
- **blank**: a frame whose mean luma is below ``black_luma`` or whose luma standard deviation
  is below ``flat_std`` (0-255 scale): black, white or one flat colour. Blank frames are never
  chosen while the shot has any other; when every candidate of the shot is blank, the least
  blank one (the highest :func:`blank_margin`) is its one keyframe, flagged ``blank=True``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from glassbox.video.shots import Shot, frame_clock

BLACK_LUMA = 20.0
FLAT_STD = 3.0
DEFAULT_PER_WINDOW = 5
_LUMA = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class Keyframe:
    """The frame chosen for (a window of) shot ``shot_index``, at ``time_s`` seconds."""

    shot_index: int
    frame: int
    time_s: float
    sharpness: float
    blank: bool


def grey(image: np.ndarray) -> np.ndarray:
    """The BT.601 luma of an RGB image ``[H, W, 3]`` (0-255) as float64 ``[H, W]``; a grey
    image ``[H, W]`` is returned as float64."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 2:
        return img
    if img.ndim == 3 and img.shape[-1] == 3:
        return img @ _LUMA
    raise ValueError(f"an image must be [H, W, 3] or [H, W], not shape {img.shape}")


def sharpness(image: np.ndarray) -> float:
    """The variance of the Laplacian of the grey image (0 for an image under 3x3)."""
    g = grey(image)
    if g.shape[0] < 3 or g.shape[1] < 3:
        return 0.0
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def blank_margin(
    image: np.ndarray, black_luma: float = BLACK_LUMA, flat_std: float = FLAT_STD
) -> float:
    """How far a frame is from blank: ``min(mean / black_luma, std / flat_std)`` of its luma
    (a threshold of 0 is never reached); under 1 is blank."""
    g = grey(image)
    ratios = [math.inf]
    if black_luma > 0:
        ratios.append(float(g.mean()) / black_luma)
    if flat_std > 0:
        ratios.append(float(g.std()) / flat_std)
    return min(ratios)


def is_blank(image: np.ndarray, black_luma: float = BLACK_LUMA, flat_std: float = FLAT_STD) -> bool:
    """Too dark or too flat to stand for a shot (module docstring)."""
    return blank_margin(image, black_luma, flat_std) < 1.0


def windows(shot: Shot, fps: float, interval_s: float | None = None) -> list[tuple[int, int]]:
    """The shot's windows as ``(start_frame, end_frame)``, end exclusive: equal parts, about
    ``interval_s`` seconds each (at least one, never more than the shot has frames)."""
    n = shot.end_frame - shot.start_frame
    if n <= 0:
        raise ValueError(f"shot {shot.index} has no frames")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, not {fps!r}")
    if interval_s is None:
        k = 1
    elif not (math.isfinite(interval_s) and interval_s > 0):
        raise ValueError(f"interval_s must be a positive number or None, not {interval_s!r}")
    else:
        k = max(1, min(n, math.floor(n / fps / interval_s + 0.5)))
    edges = [shot.start_frame + (j * n) // k for j in range(k + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def middle_third(start: int, end: int) -> tuple[int, int]:
    """The middle third of frames ``start`` .. ``end - 1`` (never empty)."""
    third = (end - start) // 3
    return start + third, end - third


def plan_candidates(
    shot: Shot, fps: float, interval_s: float | None = None, per_window: int = DEFAULT_PER_WINDOW
) -> list[int]:
    """The frames to decode as candidates: in each window, ``per_window`` frames spread evenly
    over its middle third (all of them when it has fewer), ascending."""
    if per_window < 1:
        raise ValueError("per_window must be >= 1")
    frames: set[int] = set()
    for start, end in windows(shot, fps, interval_s):
        lo, hi = middle_third(start, end)
        if hi - lo <= per_window:
            frames.update(range(lo, hi))
        else:
            frames.update(int(f) for f in np.round(np.linspace(lo, hi - 1, per_window)))
    return sorted(frames)


def _best(frames: list[int], middle: float, key: Mapping[int, float]) -> int:
    """The frame with the highest ``key``; ties: the closest to ``middle``, then the earliest."""
    return min(frames, key=lambda f: (-key[f], abs(f - middle), f))


def choose_keyframes(
    shot: Shot,
    candidates: Mapping[int, np.ndarray],
    fps: float,
    interval_s: float | None = None,
    *,
    black_luma: float = BLACK_LUMA,
    flat_std: float = FLAT_STD,
    frame_times_s: Sequence[float] | np.ndarray | None = None,
) -> list[Keyframe]:
    """The shot's keyframes, one per window that has a usable candidate, in frame order, at
    least one (module docstring). ``candidates`` maps frame index -> its (small) RGB image;
    raises ``ValueError`` when none of them lies in the shot. ``time_s`` is
    ``frame_times_s[frame]`` (the whole video's frame times) when given, else ``frame / fps``."""
    clock = None if frame_times_s is None else frame_clock(len(frame_times_s), fps, frame_times_s)
    if clock is not None and len(clock) - 1 < shot.end_frame:
        raise ValueError(
            f"{len(clock) - 1} frame times for a shot ending at frame {shot.end_frame}"
        )

    def time_of(frame: int) -> float:
        return frame / fps if clock is None else float(clock[frame])

    inside = sorted(f for f in candidates if shot.start_frame <= f < shot.end_frame)
    if not inside:
        raise ValueError(f"no candidate frame lies in shot {shot.index}")
    sharp = {f: sharpness(candidates[f]) for f in inside}
    margin = {f: blank_margin(candidates[f], black_luma, flat_std) for f in inside}
    usable = [f for f in inside if margin[f] >= 1.0]
    chosen: list[Keyframe] = []
    for start, end in windows(shot, fps, interval_s):
        lo, hi = middle_third(start, end)
        pool = [f for f in usable if lo <= f < hi] or [f for f in usable if start <= f < end]
        if pool:
            frame = _best(pool, (start + end - 1) / 2, sharp)
            chosen.append(Keyframe(shot.index, frame, time_of(frame), sharp[frame], False))
    if not chosen:
        middle = (shot.start_frame + shot.end_frame - 1) / 2
        frame = _best(inside, middle, margin)
        chosen.append(Keyframe(shot.index, frame, time_of(frame), sharp[frame], True))
    return chosen
